"""BLK-11 and BLK-12: a server booted from a volume lands on the hypervisor family its volume type serves.

nova's image-type pre-filter does not run for boot from volume, and an image without hypervisor metadata passes
both image filters: without a zone per family a KVM (NFS) volume can be scheduled onto a VMware compute, whose
driver aborts the build ("Could not find a handler for nfs volume") and leaves a VM behind in vCenter.
"""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from stackproof.servers import NO_VALID_HOST, boot, fault_message, flavor_for, outcome, settled
from stackproof.vmdk import monolithic_sparse
from stackproof.vsphere import vms_of_instance
from suites.block_storage.steering import ComputeZones, NovaZonePolicy, family_of, type_placement
from suites.block_storage.volumes import describe, designed_type, new_volume

pytestmark = [pytest.mark.block_storage]

# Boots per family. Were the scheduler to pick a family by a coin toss, all of one family's servers would land
# right by luck with probability 2**-4, both families' with 2**-8: a hole shows within one run.
BOOTS_PER_FAMILY = 4
IMAGE_VIRTUAL_SIZE = 64 * 1024 * 1024  # below every flavor's disk
# An untagged image per family: what a user uploads without hypervisor metadata. The VMDK is sparse with the
# properties cinder's VMDK driver needs to read it (vmware_disktype), none that steers scheduling.
UNTAGGED_IMAGES = {
    "kvm": {"disk_format": "raw", "properties": {}},
    "vmware": {"disk_format": "vmdk", "properties": {"vmware_disktype": "sparse", "vmware_adaptertype": "lsiLogic"}},
}


@pytest.mark.control(
    "SP-BLK-011",
    title="Volume-backed servers are steered to their volume type's hypervisor family",
    statement="Block Storage serves both hypervisors, each through its own backend: a server booted from a "
              "volume is kept on the hypervisor family its volume type serves (availability zones per family "
              "with cross_az_attach=False, or a declared policy).",
)
@pytest.mark.readonly
def test_volume_backed_servers_are_steered(cloud, hosts, target, block_storage, record_property) -> None:
    role = "controller"  # the hosts running nova-api, which decides a volume-backed server's zone
    path = target.hosts[role].config.get("nova") if role in target.hosts else None
    if path is None:
        pytest.skip(f"not evaluated: the target gives no nova config of host role {role!r} (nova-api's "
                    "[cinder] cross_az_attach decides whether servers follow their volume's zone)")
    policies = [NovaZonePolicy.read(conf, f"role {role}, host {host.backend.get_hostname()}, {path}")
                for host, conf in hosts.config(role, "nova")]
    differing = {(p.cross_az_attach, p.default_zone) for p in policies}
    expect(len(differing) == 1, "the nova-api hosts disagree on how volume zones are handled",
           expected="one [cinder] cross_az_attach and default_availability_zone on every controller",
           found=[f"{p.where}: cross_az_attach={p.cross_az_attach}, default zone {p.default_zone}" for p in policies],
           where=f"host role {role}")
    nova = policies[0]
    computes = ComputeZones.read(cloud)
    placements = [type_placement(t, block_storage, computes, nova) for t in block_storage.types.values()]
    judged = [p for p in placements if p.families]
    record_property("steering", "; ".join(f"{p.name} ({'/'.join(sorted(p.families))}) -> "
                                          f"{' | '.join(p.landing) or 'no zone'}" for p in judged))
    stray = [p for p in judged if not p.steered]
    if not stray:
        record_property("mechanism", "availability_zones")
        return
    declared = target.architecture.volume_steering
    if declared is not None and declared.mechanism == "declared":
        # A policy outside the APIs (an admission hook, a template): reported as such; SP-BLK-012 tests it.
        record_property("mechanism", f"declared: {declared.policy}")
        return
    record_property("mechanism", "none")
    expect(False, f"volume types whose volume-backed servers can land on the wrong hypervisor: "
           f"{', '.join(p.name for p in stray)}",
           expected="every volume type's volumes in zones holding only computes of its family, and nova keeping "
                    "a volume-backed server in its volume's zone ([cinder] cross_az_attach=False)"
                    + (" (the target declares availability_zones)" if declared is not None else ""),
           found="; ".join(f"{p.name}: {' / '.join(p.problems)}" for p in stray),
           where=f"{nova.where}; compute API os-availability-zone; block storage types, pools and services")


@pytest.mark.control(
    "SP-BLK-012",
    title="Servers booted from volumes of each family's type land on that family",
    statement="Block Storage serves both hypervisors, each through its own backend: a server booted from a "
              "volume, made from an image without hypervisor metadata, lands on the hypervisor family its "
              "volume type serves or is refused before any VM is built.",
)
@pytest.mark.workload
@pytest.mark.parametrize("family", sorted(UNTAGGED_IMAGES))
def test_volume_backed_servers_land_on_their_family(family, cloud, volume_design, resources, waiter, vcenters,
                                                    record_property) -> None:
    design = designed_type(volume_design, family)
    spec = UNTAGGED_IMAGES[family]
    name = resources.name(f"blk12-{family}")
    data = (monolithic_sparse(IMAGE_VIRTUAL_SIZE, file_name=f"{name}.vmdk") if spec["disk_format"] == "vmdk"
            else bytes(1024 * 1024))
    image = resources.create("image", name=name, data=data, disk_format=spec["disk_format"],
                             container_format="bare", wait=True, timeout=waiter.timeouts.default,
                             **spec["properties"])
    image = cloud.image.get_image(image.id)
    volumes = [new_volume(cloud, resources, waiter, design, f"blk12-{family}-{n}", image=image)
               for n in range(BOOTS_PER_FAMILY)]
    flavor = flavor_for(cloud, image)
    sent = [boot(resources, flavor=flavor, hint=f"blk12-{family}-{n}", block_device_mapping=[
        {"boot_index": 0, "uuid": volume.id, "source_type": "volume", "destination_type": "volume",
         "delete_on_termination": False}]) for n, volume in enumerate(volumes)]
    servers = [settled(cloud, waiter, server, f"server {server.name} booted from a {design.name} volume to become "
                       "ACTIVE or ERROR") for server in sent]

    families = {(hv.service_details or {}).get("host"): family_of(hv.hypervisor_type)
                for hv in cloud.compute.hypervisors(details=True)}
    sessions = {vc: vcenters.get(vc) for vc in vcenters.names()}
    landed, refused, strayed, left_behind = [], [], [], []
    for server, volume in zip(servers, volumes, strict=True):
        seen = f"server {server.id} from {describe(volume)}: {outcome(server)}"
        on = families.get(server.compute_host)
        if server.status == "ACTIVE" and on == family:
            landed.append(seen)
        elif server.status == "ERROR" and not server.compute_host and NO_VALID_HOST in fault_message(server):
            refused.append(seen)  # the scheduler said no: nothing was built anywhere
        else:
            strayed.append(f"{seen} (zone {server.availability_zone or 'none'}, host {server.compute_host or 'none'}"
                           f", family {on or 'none'})")
        vms = vms_of_instance(sessions, server.id, ["name", "runtime.powerState"]) if sessions else []
        if vms and not (server.status == "ACTIVE" and on == family == "vmware"):
            left_behind += [f"{vc}: VM {vm['obj']._moId} ({vm.get('runtime.powerState')}) of server {server.id}"
                            for vc, vm in vms]
    record_property("measure.boots", BOOTS_PER_FAMILY)
    record_property("measure.landed_on_family", len(landed))
    record_property("measure.refused_by_scheduler", len(refused))
    record_property("measure.landed_elsewhere", len(strayed))
    where = f"volume type {design.name}, image {image.name} ({image.id}, no hypervisor_type), flavor {flavor.name}"
    expect(not strayed, f"{len(strayed)} of {BOOTS_PER_FAMILY} servers booted from {design.name} volumes did not "
           f"land on the {family} family",
           expected=f"every server ACTIVE on a {family} compute, or refused by the scheduler ({NO_VALID_HOST})",
           found="; ".join(strayed), where=where)
    expect(not left_behind, f"VMs left behind in vCenter by servers booted from {design.name} volumes",
           expected="no VM in vCenter for a server that is not ACTIVE on VMware",
           found="; ".join(left_behind), where=f"{where}; vCenters {sorted(sessions)} (SearchIndex by instance UUID)")
    expect(bool(landed), f"no server booted from a {design.name} volume came up on the {family} family",
           expected=f"at least one of {BOOTS_PER_FAMILY} ACTIVE on a {family} compute",
           found="; ".join(refused), where=where)
