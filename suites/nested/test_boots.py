"""NEST-8: in the overcloud, a QEMU image boots on every compute, a KVM image only where KVM is real."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import NO_VALID_HOST, boot, fault_message, flavor_for, outcome, request_id, settled
from suites.nested.computes import overcloud_computes

pytestmark = [pytest.mark.nested]

IMAGE_BYTES = 1024 * 1024  # a blank raw disk: the hypervisor starts it whatever it holds


@pytest.mark.control(
    "SP-NEST-008",
    title="Overcloud boots follow the nested hypervisor: QEMU images everywhere, KVM images only where KVM is real",
    statement="The nested hypervisor is KVM in an instance only where the instance offers virtualisation, or "
              "QEMU for small test clouds: an overcloud server asking for KVM lands only where KVM really runs, "
              "and is refused before any guest is built elsewhere.",
)
@pytest.mark.workload
@pytest.mark.parametrize("hypervisor_type", ["qemu", "kvm"])
def test_overcloud_boots_follow_the_nested_hypervisor(hypervisor_type, nested_design, target, overcloud, hosts,
                                                      resources, waiter) -> None:
    computes, gaps = overcloud_computes(nested_design, overcloud, hosts)
    entry = target.clouds.overcloud
    name = resources.name(f"nest8-{hypervisor_type}")
    image = resources.create("image", cloud=entry, name=name, data=bytes(IMAGE_BYTES), disk_format="raw",
                             container_format="bare", wait=True, timeout=waiter.timeouts.get("image_active"),
                             hypervisor_type=hypervisor_type)
    flavor = flavor_for(overcloud, overcloud.image.get_image(image.id))
    # One server asked for each compute (microversion 2.74's host: every scheduler filter still runs).
    sent = [boot(resources, cloud=entry, flavor=flavor, image=image, host=compute.name,
                 hint=f"nest8-{hypervisor_type}-{compute.name}") for compute in computes]
    servers = [settled(overcloud, waiter, server, f"overcloud server {server.name} from a {hypervisor_type} image "
                       "to become ACTIVE or ERROR") for server in sent]
    problems, seen = list(gaps), []
    for compute, server in zip(computes, servers, strict=True):
        lands = hypervisor_type == "qemu" or compute.runs_kvm
        ok = (server.status == "ACTIVE" and server.compute_host == compute.name if lands
              else server.status == "ERROR" and NO_VALID_HOST in fault_message(server))
        line = (f"{compute.name} (virt_type {compute.virt_type}, runs KVM: {'yes' if compute.runs_kvm else 'no'}): "
                f"server {server.id} {outcome(server)}, request {request_id(overcloud, server)}")
        seen.append(line)
        if not ok:
            problems.append(line + (" - expected ACTIVE there" if lands else f" - expected ERROR {NO_VALID_HOST!r}"))
    expect(not problems, f"{len(problems)} overcloud compute(s) took a {hypervisor_type} image against their "
           "hypervisor", expected=f"image hypervisor_type {hypervisor_type}: ACTIVE on "
           + ("every compute" if hypervisor_type == "qemu" else "computes that run KVM, ERROR "
              f"{NO_VALID_HOST!r} on the others"),
           found="; ".join(problems), where=f"overcloud image {image.id}, flavor {flavor.name}; " + "; ".join(seen))
