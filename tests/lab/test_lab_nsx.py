"""Lab self-test, NSX side: the lab NSX manager runs healthy, the lab's Neutron realises what it makes in it as the
NSX plugin does, the lab vCenter's hosts carry an opaque network per logical switch, following segments as they
come and go, and a guest boots as a cloud image does (DHCP, then its key pair from nova's metadata). Read through
the APIs, as an operator would (the manager with the lab's own client), and the guest's console log."""

from __future__ import annotations

import time
import uuid

import pytest

from stackproof import target, vsphere
from stackproof_lab import layout as lab_layout
from stackproof_lab import topology
from stackproof_lab.dataplane.state import short
from stackproof_lab.nsx import design
from stackproof_lab.nsx import lab as nsx_lab

pytestmark = pytest.mark.lab

RUN = uuid.uuid4().hex[:8]
SYNC_LIMIT = 15  # seconds: the vCenter reads the manager every second; a busy machine stretches that


@pytest.fixture(scope="module")
def nsx(lab):
    return nsx_lab.client(lab_layout.Layout(state=lab.state, port_base=lab_layout.current().port_base))


def switch_of(nsx, network_id: str) -> str | None:
    realized = nsx.call("GET", "/policy/api/v1/infra/realized-state/realized-entities?intent_path="
                               f"/infra/segments/{network_id}")["results"]
    return realized[0].get("realization_specific_identifier") if realized else None


def test_nsx_manager_is_a_healthy_lab_service(lab) -> None:
    rows = {row["service"]: row for row in lab.status()["services"]}
    assert rows["nsx-manager"]["health"] == "up" and rows["nsx-manager"]["rss"] < 100 * 2**20


def test_provisioned_network_port_and_group_are_in_nsx(lab, nsx) -> None:
    admin = lab.connect("sp-lab-admin")
    network = admin.network.find_network("sp-net", ignore_missing=False)
    port = next(admin.network.ports(name="sp-port", network_id=network.id))
    group = admin.network.find_security_group("sp-sg", ignore_missing=False)
    assert (network.provider_network_type, network.mtu) == ("geneve", 1500)
    segment = nsx.policy("GET", f"/infra/segments/{network.id}")
    assert segment["transport_zone_path"].endswith(f"/transport-zones/{design.OVERLAY_TZ_ID}")
    switch = switch_of(nsx, network.id)
    assert switch and port.binding_vif_details["nsx-logical-switch-id"] == switch
    segment_port = nsx.policy("GET", f"/infra/segments/{network.id}/ports/{port.id}")
    assert {"scope": "os-security-group", "tag": group.id} in segment_port["tags"]
    assert [b["ip_address"] for b in segment_port["address_bindings"]] == [ip["ip_address"] for ip in port.fixed_ips]
    policy = nsx.policy("GET", f"/infra/domains/{group.project_id}/security-policies/{group.id}")
    assert {r["id"] for r in policy["rules"]} == {r["id"] for r in group.security_group_rules}
    members = nsx.call("GET", f"/policy/api/v1/infra/domains/{group.project_id}/groups/{group.id}/members/"
                              "segment-ports")["results"]
    assert [m["path"] for m in members] == [f"/infra/segments/{network.id}/ports/{port.id}"]


def test_opaque_networks_follow_segments_on_every_vcenter_host(lab, nsx) -> None:
    from pyVim.connect import Disconnect
    from pyVmomi import vim

    si = vsphere.connect(target.load(lab.target_yaml), "vc1")

    def carried() -> dict[str, set[str]]:
        hosts = vsphere.retrieve(si, vim.HostSystem, ["name", "config.network.opaqueNetwork"])
        return {h["name"]: {n.opaqueNetworkId for n in h.get("config.network.opaqueNetwork") or []} for h in hosts}

    def wait(condition, what: str) -> float:
        began = time.monotonic()
        while not condition():
            assert time.monotonic() - began < SYNC_LIMIT, f"{what} not within {SYNC_LIMIT}s: {carried()}"
            time.sleep(0.5)
        return time.monotonic() - began

    admin = lab.connect("sp-lab-admin")
    network = admin.network.create_network(name=f"sp-labtest-nsx-{RUN}")
    try:
        switch = switch_of(nsx, network.id)
        assert switch, "a new network is a realized segment at once"
        appeared = wait(lambda: all(switch in ids for ids in carried().values()), "the opaque network on every host")
    finally:
        admin.network.delete_network(network, ignore_missing=True)
    gone = wait(lambda: not any(switch in ids for ids in carried().values()), "the opaque network gone")
    Disconnect(si)
    assert nsx.call("GET", "/api/v1/logical-switches")["result_count"] >= 1
    print(f"opaque network on every host {appeared:.1f}s after the network; gone {gone:.1f}s after its deletion")


def test_a_guest_gets_its_address_from_dhcp_and_its_key_pair_from_nova_metadata(lab) -> None:
    """The node agent gives a guest only its NIC: its address comes from the edge's DHCP server (a static lease of
    its port), its key pair from nova's metadata API through the edge's metadata proxy, as on a real cloud."""
    admin = lab.connect("sp-lab-admin")
    public_key = (lab.state / "ssh" / "id_ed25519.pub").read_text().strip()
    network = admin.network.create_network(name=f"sp-labtest-dhcp-{RUN}")
    keypair = server = None
    try:
        subnet = admin.network.create_subnet(network_id=network.id, ip_version=4, cidr="203.0.113.0/24",
                                             name=f"sp-labtest-dhcp-{RUN}")
        keypair = admin.compute.create_keypair(name=f"sp-labtest-dhcp-{RUN}", public_key=public_key)
        server = admin.compute.create_server(
            name=f"sp-labtest-dhcp-{RUN}", key_name=keypair.name, networks=[{"uuid": network.id}],
            image_id=admin.image.find_image("sp-qemu-qcow2", ignore_missing=False).id,
            flavor_id=admin.compute.find_flavor("sp.tiny.kvm", ignore_missing=False).id)
        server = admin.compute.wait_for_server(server, status="ACTIVE", wait=180, interval=1)
        (port,) = admin.network.ports(device_id=server.id)
        guest = topology.TOPOLOGY.get(server.compute_host).local(
            lab_layout.Layout(state=lab.state, port_base=lab_layout.current().port_base),
            f"/var/lib/nsx/guests/{short(port.id)}")
        console = lab.wait_until(
            lambda: "metadata:" in (text := _read(guest / "console.log")) and text, timeout=90,
            what=f"the guest of port {port.id} on {server.compute_host} to ask the metadata service")
        (dhcp,) = admin.network.ports(network_id=network.id, device_owner="network:dhcp")
        server_ip, fixed_ip = dhcp.fixed_ips[0]["ip_address"], port.fixed_ips[0]["ip_address"]
        assert f"DHCP: eth0 {fixed_ip}/24 from {server_ip}, routes: 169.254.169.254/32 {server_ip} 0.0.0.0/0 " \
               f"{subnet.gateway_ip}" in console, console
        assert "metadata: key pair installed" in console, console
        assert (guest / "authorized_keys").read_text().strip() == public_key
    finally:
        if server is not None:
            admin.compute.delete_server(server, ignore_missing=True)
            admin.compute.wait_for_delete(server, wait=60, interval=1)
        if keypair is not None:
            admin.compute.delete_keypair(keypair, ignore_missing=True)
        admin.network.delete_network(network, ignore_missing=True)


def _read(path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def test_a_trunk_is_realized_as_child_ports_that_follow_their_parent(lab, nsx) -> None:
    """Neutron's trunk service on the lab NSX driver (as vmware-nsx's trunk driver): a sub-port is bound where its
    parent is, owned trunk:subport, and its segment port is a CHILD of the parent's VIF on its VLAN; one added to
    a running server's trunk too, and one removed goes back to a plain port. (The lab's data plane does not carry
    sub-ports: this kernel has no 802.1Q; the node agent says so.)"""
    admin = lab.connect("sp-lab-admin")
    name = f"sp-labtest-trunk-{RUN}"
    made: list = []  # deleted in reverse: server, trunk, ports, networks
    try:
        networks = []
        for hint, cidr in (("parent", "203.0.113.0/25"), ("vlan", "203.0.113.128/25")):
            network = admin.network.create_network(name=f"{name}-{hint}")
            made.append(network)
            admin.network.create_subnet(network_id=network.id, ip_version=4, cidr=cidr, name=f"{name}-{hint}")
            networks.append(network)
        parent, first, second = (admin.network.create_port(network_id=net.id, name=f"{name}-{hint}") for hint, net in
                                 (("parent", networks[0]), ("vlan1", networks[1]), ("vlan2", networks[1])))
        made += [parent, first, second]
        trunk = admin.network.create_trunk(port_id=parent.id, name=name, sub_ports=[
            {"port_id": first.id, "segmentation_type": "vlan", "segmentation_id": 101}])
        made.append(trunk)
        server = admin.compute.create_server(
            name=name, networks=[{"port": parent.id}],
            image_id=admin.image.find_image("sp-qemu-qcow2", ignore_missing=False).id,
            flavor_id=admin.compute.find_flavor("sp.tiny.kvm", ignore_missing=False).id)
        made.append(server)
        server = admin.compute.wait_for_server(server, status="ACTIVE", wait=180, interval=1)
        admin.network.add_trunk_subports(trunk, [{"port_id": second.id, "segmentation_type": "vlan",
                                                  "segmentation_id": 102}])

        for subport, vlan in ((first, 101), (second, 102)):
            port = admin.network.get_port(subport.id)
            assert (port.device_owner, port.binding_host_id) == ("trunk:subport", server.compute_host), port
            attachment = nsx.policy("GET", f"/infra/segments/{networks[1].id}/ports/{subport.id}")["attachment"]
            assert (attachment.get("type"), attachment.get("id"), attachment.get("context_id"),
                    attachment.get("traffic_tag")) == ("CHILD", subport.id, parent.id, vlan), attachment
        assert admin.network.get_trunk(trunk.id).status == "ACTIVE"

        admin.network.delete_trunk_subports(trunk, [{"port_id": second.id}])
        port = admin.network.get_port(second.id)
        assert (port.device_owner, port.binding_host_id) == ("", ""), port
        assert (nsx.policy("GET", f"/infra/segments/{networks[1].id}/ports/{second.id}").get("attachment")
                or {}).get("type") != "CHILD"
    finally:
        for resource in reversed(made):
            _delete(admin, resource)


def _delete(admin, resource) -> None:
    kind = type(resource).__name__
    if kind == "Server":
        admin.compute.delete_server(resource, ignore_missing=True)
        admin.compute.wait_for_delete(resource, wait=60, interval=1)
    elif kind == "Trunk":
        admin.network.delete_trunk(resource, ignore_missing=True)
    elif kind == "Port":
        admin.network.delete_port(resource, ignore_missing=True)
    else:
        admin.network.delete_network(resource, ignore_missing=True)
