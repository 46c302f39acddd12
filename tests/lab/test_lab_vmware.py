"""Lab self-test, VMware side: nova's own VMware driver against the lab vCenter, cinder's VMDK driver,
and the vSphere faults, each checked through pyvmomi the way an operator would look."""

from __future__ import annotations

import configparser
import ssl
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.lab

RUN = uuid.uuid4().hex[:8]
VMWARE_HOSTS = {"vmware-1", "vmware-2"}
VMWARE_HV_TYPE = "VMware vCenter Server"
HOST_STATE_REASON = "set by vmwareapi host_state"
TIMINGS: dict[str, float] = {}


# --- vCenter access, as a check reads it (PropertyCollector, TLS verified with the lab's CA) --------


@pytest.fixture(scope="module")
def vcenter_target(lab) -> dict[str, Any]:
    target = yaml.safe_load(lab.target_yaml.read_text())
    secure = yaml.safe_load(Path(target["secure_yaml"]).read_text())
    vc = target["vcenters"]["vc1"]
    return {**vc, "password": secure["vcenters"]["vc1"]["password"]}


def connect(vc: dict[str, Any]) -> Any:
    pytest.importorskip("pyVmomi")
    from pyVim.connect import SmartConnect

    host, port = vc["url"].split("//", 1)[1].split("/", 1)[0].split(":")
    context = ssl.create_default_context(cafile=vc["ca_bundle"])
    return SmartConnect(host=host, port=int(port), user=vc["user"], pwd=vc["password"], sslContext=context)


@pytest.fixture
def vsphere(vcenter_target):
    """A fresh session per test: fault tests restart the vCenter, which ends every session."""
    from pyVim.connect import Disconnect

    si = connect(vcenter_target)
    yield si.RetrieveContent()
    Disconnect(si)


def collect(content: Any, vimtype: Any, paths: list[str]) -> dict[Any, dict[str, Any]]:
    """Properties of every object of a type, one RetrievePropertiesEx (unset properties absent)."""
    from pyVmomi import vmodl

    pc = vmodl.query.PropertyCollector
    view = content.viewManager.CreateContainerView(content.rootFolder, [vimtype], True)
    try:
        spec = pc.FilterSpec(
            objectSet=[
                pc.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[pc.TraversalSpec(name="v", path="view", skip=False, type=type(view))],
                )
            ],
            propSet=[pc.PropertySpec(type=vimtype, pathSet=paths)],
        )
        found: dict[Any, dict[str, Any]] = {}
        result = content.propertyCollector.RetrievePropertiesEx([spec], pc.RetrieveOptions())
        while result:
            for obj in result.objects:
                found[obj.obj] = {p.name: p.val for p in obj.propSet}
            token = result.token
            result = content.propertyCollector.ContinueRetrievePropertiesEx(token) if token else None
        return found
    finally:
        view.Destroy()


def vms_of(content: Any, server_id: str) -> list[Any]:
    return list(content.searchIndex.FindAllByUuid(uuid=server_id, vmSearch=True, instanceUuid=True) or [])


def nova_cluster_of(lab, host: str) -> str:
    conf = configparser.ConfigParser(strict=False, interpolation=None)
    conf.read(lab.state / "hosts" / host / "etc" / "nova" / "nova.conf")  # the host's /etc/nova/nova.conf
    return conf.get("vmware", "cluster_name")


def clusters_by_name(content: Any) -> dict[str, Any]:
    from pyVmomi import vim

    return {props["name"]: obj for obj, props in collect(content, vim.ClusterComputeResource, ["name"]).items()}


def fault(lab, verb: str, name: str, timeout: float = 180) -> str:
    result = lab.run("fault", verb, name, timeout=timeout)
    assert result.returncode == 0, f"fault {verb} {name}: {result.stderr}"
    return result.stdout


# --- the VMware aggregate ---------------------------------------------------------------------


def test_each_vmware_compute_fronts_its_cluster_as_one_hypervisor(lab, vsphere) -> None:
    admin = lab.connect("sp-lab-admin")
    instance_uuid = vsphere.about.instanceUuid
    clusters = clusters_by_name(vsphere)
    hypervisors = [h for h in admin.compute.hypervisors(details=True) if h.hypervisor_type == VMWARE_HV_TYPE]
    by_host = {h.service_details["host"]: h for h in hypervisors}
    assert set(by_host) == VMWARE_HOSTS and len(hypervisors) == len(VMWARE_HOSTS), [h.name for h in hypervisors]
    for host, hypervisor in by_host.items():
        cluster = clusters[nova_cluster_of(lab, host)]
        assert hypervisor.name == f"{cluster._moId}.{instance_uuid}", (host, hypervisor.name)
        assert hypervisor.state == "up" and hypervisor.status == "enabled"
        provider = next(admin.placement.resource_providers(name=hypervisor.name))
        traits = set(
            admin.placement.get(f"/resource_providers/{provider.id}/traits", microversion="1.6").json()["traits"]
        )
        assert "COMPUTE_IMAGE_TYPE_VMDK" in traits and "COMPUTE_IMAGE_TYPE_QCOW2" not in traits, traits
    aggregate = next(a for a in admin.compute.aggregates() if a.name == "vmware")
    assert set(aggregate.hosts) == VMWARE_HOSTS and aggregate.metadata.get("img_hv_type") == "vmware"


def test_vcenter_reads_drs_fully_automated_shared_vmfs_and_vmotion(vsphere) -> None:
    from pyVmomi import vim

    clusters = collect(vsphere, vim.ClusterComputeResource, ["name", "configurationEx", "host", "datastore"])
    hosts = collect(vsphere, vim.HostSystem, ["name", "summary.config.vmotionEnabled", "config.vmotion"])
    datastores = collect(vsphere, vim.Datastore, ["name", "summary", "host"])
    assert {p["name"] for p in clusters.values()} == {"sp-cluster-1", "sp-cluster-2"}
    for props in clusters.values():
        drs = props["configurationEx"].drsConfig
        assert drs.enabled and drs.defaultVmBehavior == "fullyAutomated", (props["name"], drs)
        members = set(props["host"])
        assert len(members) == 3
        # Its own datastore (sp-vmfs-<n>) and the one both clusters share (sp-vmfs-shared).
        own = {datastores[ds]["name"]: datastores[ds] for ds in props["datastore"]
               if datastores[ds]["name"].startswith("sp-vmfs-")}
        assert len(own) == 2 and "sp-vmfs-shared" in own, (props["name"], sorted(own))
        for store in own.values():
            summary = store["summary"]
            assert summary.type == "VMFS" and summary.multipleHostAccess and summary.accessible
            rw = {m.key for m in store["host"] if m.mountInfo.mounted and m.mountInfo.accessMode == "readWrite"}
            assert members <= rw, f"{summary.name} not mounted read-write on every host of {props['name']}"
        for host in members:
            assert hosts[host]["summary.config.vmotionEnabled"] is True
            assert hosts[host]["config.vmotion"].netConfig.selectedVnic, hosts[host]["name"]


# --- a server from the VMDK image ---------------------------------------------------------------


@pytest.fixture(scope="module")
def vmware_server(lab, member):
    with lab.server(member, f"sp-labtest-vmw-{RUN}", image="sp-vmware-sparse-vmdk", wait=180) as server:
        TIMINGS["vmdk_server_active"] = server.boot_seconds
        yield server


def test_vmdk_server_is_a_powered_on_vm_in_the_cluster_of_its_compute(lab, vsphere, vmware_server) -> None:
    from pyVmomi import vim

    admin = lab.connect("sp-lab-admin")
    server = admin.compute.get_server(vmware_server.id)
    assert server.compute_host in VMWARE_HOSTS, f"landed on {server.compute_host}"
    cluster_name = nova_cluster_of(lab, server.compute_host)
    cluster = clusters_by_name(vsphere)[cluster_name]
    assert server.hypervisor_hostname == f"{cluster._moId}.{vsphere.about.instanceUuid}"
    vms = vms_of(vsphere, server.id)
    assert len(vms) == 1, f"{len(vms)} VMs with instanceUuid {server.id}"
    vm = vms[0]
    assert vm.runtime.powerState == "poweredOn"
    assert vm.runtime.host in cluster.host, f"VM on {vm.runtime.host.name}, not a host of {cluster_name}"
    assert vm.config.managedBy and vm.config.managedBy.extensionKey == "org.openstack.compute"
    # The NIC is on the NSX opaque network the port's binding names, as NSX-T attaches it.
    port = next(admin.network.ports(device_id=server.id))
    assert port.binding_vif_type == "ovs" and port.binding_host_id == server.compute_host
    switch_id = port.binding_vif_details["nsx-logical-switch-id"]
    opaque = {p["summary"].opaqueNetworkId: p["name"] for p in collect(vsphere, vim.OpaqueNetwork,
                                                                      ["name", "summary"]).values()}
    assert switch_id in opaque, f"no opaque network for logical switch {switch_id}: {opaque}"
    nics = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert len(nics) == 1
    backing = nics[0].backing
    assert isinstance(backing, vim.vm.device.VirtualEthernetCard.OpaqueNetworkBackingInfo)
    assert (backing.opaqueNetworkId, backing.opaqueNetworkType) == (switch_id, "nsx.LogicalSwitch")
    assert nics[0].externalId == port.id and nics[0].macAddress == port.mac_address
    print(
        f"VMDK server ACTIVE on {server.compute_host} ({cluster_name}, VM on {vm.runtime.host.name}) after "
        f"{TIMINGS['vmdk_server_active']:.1f}s"
    )


def test_vmdk_volume_attaches_to_and_detaches_from_a_vmware_server(lab, member, vsphere, vmware_server) -> None:
    from pyVmomi import vim

    admin = lab.connect("sp-lab-admin")

    def volume_disks() -> list[Any]:
        vm = vms_of(vsphere, vmware_server.id)[0]
        return [
            d
            for d in vm.config.hardware.device
            if isinstance(d, vim.vm.device.VirtualDisk) and "volume-" in d.backing.fileName
        ]

    assert not volume_disks()
    volume = member.block_storage.create_volume(size=1, name=f"sp-labtest-vmw-{RUN}", volume_type="vmdk-thin")
    try:
        volume = member.block_storage.wait_for_status(volume, "available", wait=60, interval=1)
        began = time.monotonic()
        member.compute.create_volume_attachment(vmware_server, volume=volume)
        volume = member.block_storage.wait_for_status(volume, "in-use", wait=120, interval=1)
        TIMINGS["vmdk_attach"] = time.monotonic() - began
        seen = admin.block_storage.get_volume(volume.id)
        assert seen.host == "lab-storage@lab-vmdk#lab-vmdk"
        attachment = admin.block_storage.get_attachment(seen.attachments[0]["attachment_id"])
        assert attachment.connection_info["driver_volume_type"] == "vmdk"
        disks = volume_disks()
        assert len(disks) == 1, f"the VM has {len(disks)} volume disks"
        # vmware:vmdk_type=thin; cinder names the backing disk's UUID after the volume.
        assert disks[0].backing.thinProvisioned is True and disks[0].backing.uuid == volume.id
        assert disks[0].capacityInKB == 1024 * 1024
        member.compute.delete_volume_attachment(vmware_server, volume)
        volume = member.block_storage.wait_for_status(volume, "available", wait=120, interval=1)
        assert not volume_disks(), "the volume's disk is still on the VM after detach"
        assert not [o for o in vms_of(vsphere, vmware_server.id)[0].config.extraConfig if volume.id in o.key]
    finally:
        current = member.block_storage.find_volume(volume.id, ignore_missing=True)
        if current is not None and current.attachments:
            member.compute.delete_volume_attachment(vmware_server, current, ignore_missing=True)
            member.block_storage.wait_for_status(current, "available", wait=120, interval=1)
        member.block_storage.delete_volume(volume, ignore_missing=True)
        member.block_storage.wait_for_delete(volume, wait=60, interval=1)
    # The volume was a disk of a powered-off backing VM, deleted with it.
    assert not [vm for vm in vms_of(vsphere, volume.id)], "the volume's backing VM outlived the volume"
    print(f"VMDK volume attached to a VMware server after {TIMINGS['vmdk_attach']:.1f}s")


def test_qcow2_image_forced_to_a_vmware_host_finds_no_valid_host(lab) -> None:
    admin = lab.connect("sp-lab-admin")
    image = admin.image.find_image("sp-qemu-qcow2", ignore_missing=False)
    flavor = admin.compute.find_flavor("sp.tiny", ignore_missing=False)
    # host= (microversion 2.74) still goes through the scheduler's filters, unlike the old az:host form.
    server = admin.compute.create_server(
        name=f"sp-labtest-qcow2-vmw-{RUN}", image_id=image.id, flavor_id=flavor.id, networks="none", host="vmware-1"
    )
    try:
        server = admin.compute.wait_for_server(server, status="ERROR", failures=[], wait=60, interval=1)
        assert "No valid host" in (server.fault or {}).get("message", "")
    finally:
        admin.compute.delete_server(server, ignore_missing=True)
        admin.compute.wait_for_delete(server, wait=60, interval=1)


def test_deleting_a_vmware_server_removes_its_vm(lab, member, vsphere, vmware_server) -> None:
    assert len(vms_of(vsphere, vmware_server.id)) == 1
    member.compute.delete_server(vmware_server)
    member.compute.wait_for_delete(vmware_server, wait=120, interval=1)
    assert not vms_of(vsphere, vmware_server.id), "the server's VM is still in vCenter"


# --- faults -------------------------------------------------------------------------------------


def compute_service(admin, host: str) -> Any:
    return next(s for s in admin.compute.services(binary="nova-compute") if s.host == host)


def test_vmware_1_killed_goes_down_in_the_api_and_comes_back(lab) -> None:
    admin = lab.connect("sp-lab-admin")
    before = {h.name for h in admin.compute.hypervisors(details=True) if h.hypervisor_type == VMWARE_HV_TYPE}
    assert compute_service(admin, "vmware-1").state == "up"
    began = time.monotonic()
    fault(lab, "inject", "vmware-1-killed")
    try:
        status = {row["service"]: row for row in lab.status()["services"]}
        assert status["nova-compute-vmware-1"]["pid"] is None
        lab.wait_until(
            lambda: compute_service(admin, "vmware-1").state == "down",
            timeout=40,
            what="nova to report vmware-1's compute down",
        )
        print(f"vmware-1 reported down {time.monotonic() - began:.1f}s after SIGKILL")
        # The other cluster's compute is unaffected.
        assert compute_service(admin, "vmware-2").state == "up"
    finally:
        fault(lab, "clear", "vmware-1-killed")
    lab.wait_until(
        lambda: compute_service(admin, "vmware-1").state == "up", timeout=40, what="vmware-1's compute up again"
    )
    after = {h.name for h in admin.compute.hypervisors(details=True) if h.hypervisor_type == VMWARE_HV_TYPE}
    assert after == before, "the restarted compute came back as another hypervisor"


def test_vcenter_stopped_disables_the_vmware_computes_and_clear_restores_them(lab, vcenter_target) -> None:
    admin = lab.connect("sp-lab-admin")
    pids = {row["service"]: row["pid"] for row in lab.status()["services"]}
    fault(lab, "inject", "vcenter-stopped")
    try:
        rows = {row["service"]: row for row in lab.status()["services"]}
        assert rows["vcenter"]["health"] == "down" and rows["vcenter"]["pid"] is None
        with pytest.raises(OSError):
            connect(vcenter_target)
        # The computes keep running and report in, but disabled themselves: vCenter loss's signature.
        for host in VMWARE_HOSTS:
            assert rows[f"nova-compute-{host}"]["pid"] == pids[f"nova-compute-{host}"]
            service = compute_service(admin, host)
            assert (service.state, service.status, service.disabled_reason) == ("up", "disabled", HOST_STATE_REASON)
    finally:
        fault(lab, "clear", "vcenter-stopped")
    rows = {row["service"]: row for row in lab.status()["services"]}
    assert rows["vcenter"]["health"] == "up"
    for host in VMWARE_HOSTS:
        assert rows[f"nova-compute-{host}"]["pid"] != pids[f"nova-compute-{host}"], f"{host} was not restarted"
        service = compute_service(admin, host)
        assert (service.state, service.status) == ("up", "enabled"), (host, service.status, service.disabled_reason)
    si = connect(vcenter_target)
    assert si.RetrieveContent().about.instanceUuid == "5a1d0e2c-7c3b-4b8e-9f11-57ac4f00b001"


def cluster_1(content: Any) -> Any:
    return clusters_by_name(content)["sp-cluster-1"]


def test_drs_fault_reads_back_partially_automated_and_survives_a_vcenter_restart(lab, vcenter_target) -> None:
    from pyVim.connect import Disconnect

    def behavior() -> str:
        si = connect(vcenter_target)
        try:
            return cluster_1(si.RetrieveContent()).configurationEx.drsConfig.defaultVmBehavior
        finally:
            Disconnect(si)

    assert behavior() == "fullyAutomated"
    fault(lab, "inject", "drs-partially-automated")
    try:
        assert behavior() == "partiallyAutomated"
        # The vCenter starts from its baseline inventory: the lab makes active vSphere faults true again.
        fault(lab, "inject", "vcenter-stopped")
        fault(lab, "clear", "vcenter-stopped")
        assert behavior() == "partiallyAutomated"
    finally:
        fault(lab, "clear", "vcenter-stopped")  # no-op unless the test failed in between
        fault(lab, "clear", "drs-partially-automated")
    assert behavior() == "fullyAutomated"


def test_datastore_unshared_unmounts_sp_vmfs_1_from_one_host_of_cluster_1(lab, vsphere) -> None:
    from pyVmomi import vim

    def mounts() -> dict[str, bool]:
        cluster = cluster_1(vsphere)
        store = next(ds for ds in cluster.datastore if ds.name == "sp-vmfs-1")
        return {m.key.name: bool(m.mountInfo.mounted) for m in store.host if m.key in cluster.host}

    assert all(mounts().values())
    fault(lab, "inject", "datastore-unshared")
    try:
        found = mounts()
        assert sorted(found.values()) == [False, True, True], found
        summary = collect(vsphere, vim.Datastore, ["name", "summary"])
        store = next(p["summary"] for p in summary.values() if p["name"] == "sp-vmfs-1")
        assert store.accessible and store.multipleHostAccess  # still shared by the other two hosts
    finally:
        fault(lab, "clear", "datastore-unshared")
    assert all(mounts().values())


def test_host_in_maintenance_takes_one_host_of_cluster_1_out_and_nova_sees_it(lab, vsphere) -> None:
    admin = lab.connect("sp-lab-admin")
    cluster = cluster_1(vsphere)
    provider_name = f"{cluster._moId}.{vsphere.about.instanceUuid}"

    def in_maintenance() -> list[str]:
        return sorted(h.name for h in cluster.host if h.runtime.inMaintenanceMode)

    def vcpus() -> int:
        provider = next(admin.placement.resource_providers(name=provider_name))
        inventory = {i.resource_class: i for i in admin.placement.resource_provider_inventories(provider)}
        return inventory["VCPU"].total

    total = vcpus()
    assert not in_maintenance()
    fault(lab, "inject", "host-in-maintenance", timeout=240)
    try:
        assert len(in_maintenance()) == 1
        # nova's VMware driver sums over usable hosts only; inject returns once placement shows it.
        assert vcpus() == total * 2 // 3
    finally:
        fault(lab, "clear", "host-in-maintenance", timeout=240)
    assert not in_maintenance() and vcpus() == total
