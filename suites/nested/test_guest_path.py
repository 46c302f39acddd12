"""NEST-9: an overcloud guest is reached end to end: overcloud network, router and floating IP on the
overcloud's external network (an undercloud network), the guest's address from DHCP and its key pair and
metadata from the overcloud, a login from the runner."""

from __future__ import annotations

from typing import Any

import pytest

from stackproof.findings import expect
from stackproof.servers import boot, flavor_for, outcome, settled, where
from suites.nsx.guests import external_network, floating_ips_through, guest_key, login, require_floating_ips

pytestmark = [pytest.mark.nested]

TENANT_CIDR = "192.0.2.192/28"  # documentation range: the run's own overcloud network, behind its router
SSH_INGRESS = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
               "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}
METADATA = "http://169.254.169.254/openstack/latest/meta_data.json"
# What the guest is asked, each part on its own line of output: its IPv4 addresses, its default route, and
# nova's metadata for it (curl or busybox wget, whichever the image has).
INSIDE = ("ip -4 -o addr show; echo '--'; ip -4 route show default; echo '--'; "
          f"curl -s -m 10 {METADATA} || wget -q -T 10 -O - {METADATA}")


def _guest_image(overcloud: Any, designed: str | None, run_prefix: str) -> Any:
    images = [i for i in overcloud.image.images(status="active") if not (i.name or "").startswith(run_prefix)]
    if designed:
        found = [i for i in images if designed in (i.name, i.id)]
        expect(bool(found), f"the designed guest image {designed} is not an active overcloud image",
               expected=f"an active image {designed}", found=sorted(i.name for i in images) or "none",
               where="overcloud image API")
        return found[0]
    bootable = [i for i in images if i.disk_format in ("qcow2", "raw")]
    expect(bool(bootable), "the overcloud has no active qcow2 or raw image to boot", expected="one",
           found=sorted(f"{i.name} ({i.disk_format})" for i in images) or "none", where="overcloud image API")
    return min(bootable, key=lambda i: (i.size or 0, i.name or "", i.id))


@pytest.mark.control(
    "SP-NEST-009",
    title="An overcloud guest is reached from the runner through the overcloud's router and floating IP",
    statement="Networking is the hardest part of OpenStack on OpenStack: the overcloud's tenant networks, routers "
              "and floating IPs work end to end over the undercloud, as a user of the nested cloud uses them.",
)
@pytest.mark.workload
def test_an_overcloud_guest_is_reached_end_to_end(nested_design, run, target, overcloud, resources, waiter) -> None:
    if not nested_design.guest_user:
        pytest.skip("the target names no guest login (architecture.nested.guest_user), so the runner cannot run a "
                    "command inside an overcloud server")
    require_floating_ips(overcloud)
    entry = target.clouds.overcloud
    external = external_network(overcloud, nested_design.external_network, "architecture.nested.external_network")
    image = _guest_image(overcloud, nested_design.guest_image, run.prefix)
    flavor = flavor_for(overcloud, image)
    network = resources.create("network", cloud=entry, hint="nest9-net")
    resources.create("subnet", cloud=entry, hint="nest9-net", network_id=network.id, ip_version=4, cidr=TENANT_CIDR)
    group = resources.create("security_group", cloud=entry, hint="nest9-ssh")
    overcloud.network.create_security_group_rule(security_group_id=group.id, **SSH_INGRESS)
    with guest_key(resources, "nest9-key", entry=entry) as key:
        server = settled(overcloud, waiter, boot(resources, cloud=entry, flavor=flavor, image=image, hint="nest9",
                                                 networks=[{"uuid": network.id}], key_name=key.name,
                                                 security_groups=[{"name": group.name}]),
                         "an overcloud server to become ACTIVE or ERROR")
        place = where(overcloud, server, image, flavor)
        expect(server.status == "ACTIVE", "the overcloud did not boot a guest", expected="ACTIVE",
               found=outcome(server), where=place)
        port = next(iter(overcloud.network.ports(device_id=server.id)))
        fixed = port.fixed_ips[0]["ip_address"]
        address = floating_ips_through(overcloud, resources, external, network, {server.id: port}, "nest9",
                                       entry=entry)[server.id]
        guest = login(address, nested_design.guest_user, key, waiter.timeouts.get("server_active"),
                      f"overcloud server {server.id} to accept an ssh login through floating IP {address}")
        answer = guest.run(INSIDE)
    addresses, route, metadata = [*answer.stdout.split("\n--\n"), "", "", ""][:3]
    problems = []
    if f" {fixed}/" not in addresses:
        problems.append(f"the guest does not have its port's address {fixed} (DHCP): {addresses.strip() or 'none'}")
    if "default" not in route:
        problems.append("the guest has no default route (DHCP's router option)")
    if server.id not in metadata:
        problems.append(f"the overcloud's metadata service did not answer with the server's id at {METADATA}: "
                        f"{(metadata.strip() or answer.stderr.strip())[:200] or 'nothing'}")
    expect(not problems, f"{len(problems)} part(s) of the overcloud guest's path do not work",
           expected=f"an ssh login through floating IP {address} on {external.name}; inside: address {fixed} from "
                    "DHCP, a default route, nova's metadata naming the server",
           found="; ".join(problems),
           where=f"{place}; port {port.id}; floating IP {address}; network {network.id}")
