"""The nested checks' rules (suites/nested/rules.py): each turns red on exactly the fact that breaks it.

The lab has no overcloud yet, so these are the rules' proofs until the lab's nested profile gives each check a
fault of its own."""

from __future__ import annotations

import ipaddress

import pytest

from suites.nested.computes import OvercloudCompute
from suites.nested.rules import (
    Endpoint,
    OverNetwork,
    Trunk,
    UnderPort,
    UnderServer,
    controller_nodes,
    endpoint_problems,
    hypervisor_nodes,
    internal_networks,
    nested_cpu_problems,
    overlay_mtu_problems,
    port_security_problems,
    shared_host_problems,
    virt_type_problems,
    vlan_carriage_problems,
)


def server(name: str, address: str, host: str = "uc-compute-1", status: str = "ACTIVE", host_status: str = "UP",
           hostname: str | None = None) -> UnderServer:
    return UnderServer(id=f"id-{name}", name=name, hostname=hostname or name, status=status, host_status=host_status,
                       compute_host=host, addresses=frozenset({address}))


CTL = server("oc-controller-0", "192.0.2.10", host="uc-compute-1")
CMP1 = server("oc-compute-0", "192.0.2.11", host="uc-compute-1")
CMP2 = server("oc-compute-1", "192.0.2.12", host="uc-compute-2")
SERVERS = [CTL, CMP1, CMP2]


def test_an_endpoint_on_a_tenant_subnet_or_answering_500_or_not_at_all_is_red() -> None:
    internal = internal_networks([("192.0.2.0/24", False), ("203.0.113.0/24", True)])
    assert internal == [ipaddress.ip_network("192.0.2.0/24")]
    good = Endpoint("identity", "https://203.0.113.5:5000/v3", ("203.0.113.5",))
    assert endpoint_problems([good], internal, {good.url: 300}) == []
    inside = Endpoint("compute", "http://192.0.2.10:8774/v2.1", ("192.0.2.10",))
    broken = Endpoint("image", "http://203.0.113.5:9292", ("203.0.113.5",))
    silent = Endpoint("network", "http://203.0.113.5:9696", ("203.0.113.5",))
    unresolved = Endpoint("placement", "http://placement.invalid/", ("",))
    problems = endpoint_problems([good, inside, broken, silent, unresolved], internal,
                                {good.url: 300, inside.url: 200, broken.url: 503, silent.url: "no answer (timeout)",
                                 unresolved.url: "no answer (ConnectFailure)"})
    assert problems == [
        "compute http://192.0.2.10:8774/v2.1: on 192.0.2.10, an undercloud-internal address (a tenant subnet of "
        "the undercloud)",
        "image http://203.0.113.5:9292: HTTP 503",
        "network http://203.0.113.5:9696: no answer (timeout)",
        "placement http://placement.invalid/: its host does not resolve from the runner",
        "placement http://placement.invalid/: no answer (ConnectFailure)",
    ]


def test_a_hypervisor_is_red_when_its_server_is_missing_stopped_or_on_a_host_that_is_down() -> None:
    green = hypervisor_nodes([("oc-compute-0", "192.0.2.11"), ("oc-compute-1", "192.0.2.12")], SERVERS)
    assert green.problems == [] and set(green.found) == {"oc-compute-0", "oc-compute-1"}
    stopped = server("oc-compute-1", "192.0.2.12", status="SHUTOFF", host="uc-compute-2")
    host_down = server("oc-compute-0", "192.0.2.11", host_status="DOWN")
    red = hypervisor_nodes([("oc-compute-0", "192.0.2.11"), ("oc-compute-1", "192.0.2.12"),
                            ("oc-compute-2", "192.0.2.99")], [CTL, host_down, stopped])
    assert red.unmatched == ["overcloud hypervisor oc-compute-2 (host_ip 192.0.2.99): no undercloud server has "
                             "that address"]
    assert red.problems[1:] == [
        "overcloud hypervisor oc-compute-0: undercloud server oc-compute-0 (id-oc-compute-0) is ACTIVE on undercloud "
        "host uc-compute-1 (host_status DOWN)",
        "overcloud hypervisor oc-compute-1: undercloud server oc-compute-1 (id-oc-compute-1) is SHUTOFF on undercloud "
        "host uc-compute-2 (host_status UP)",
    ]


def test_two_controllers_on_one_undercloud_host_are_red_and_found_by_hostname_or_fqdn() -> None:
    second = server("oc-controller-1", "192.0.2.20", host="uc-compute-2")
    spread = controller_nodes(["oc-controller-0.overcloud.example", "oc-controller-1"], [*SERVERS, second])
    assert spread.problems == [] and shared_host_problems(spread.found) == []
    crowded = server("oc-controller-1", "192.0.2.20", host="uc-compute-1")
    nodes = controller_nodes(["oc-controller-0", "oc-controller-1", "oc-controller-2"], [*SERVERS, crowded])
    assert nodes.unmatched == ["overcloud controller oc-controller-2: no undercloud server has that hostname or name"]
    assert shared_host_problems(nodes.found) == [
        "undercloud host uc-compute-1 runs 2 overcloud controllers: oc-controller-0 (undercloud server "
        "oc-controller-0 (id-oc-controller-0)), oc-controller-1 (undercloud server oc-controller-1 "
        "(id-oc-controller-1))"]


def _ports(*servers: UnderServer) -> list[UnderPort]:
    return [UnderPort(f"port-{s.name}", "net-uc", s.id, True, s.addresses) for s in servers]


def test_a_node_without_a_sub_port_for_an_overcloud_vlan_is_red_unless_its_network_is_vlan_transparent() -> None:
    nodes = {"oc-compute-0": CMP1, "oc-compute-1": CMP2}
    vlans = {101: "tenant-a", 102: "tenant-b"}
    full = [Trunk("t1", "port-oc-compute-0", frozenset({101, 102})), Trunk("t2", "port-oc-compute-1",
                                                                            frozenset({101, 102}))]
    assert vlan_carriage_problems(vlans, nodes, full, _ports(CMP1, CMP2), []) == []
    short = [full[0], Trunk("t2", "port-oc-compute-1", frozenset({101}))]
    assert vlan_carriage_problems(vlans, nodes, short, _ports(CMP1, CMP2), []) == [
        "overcloud node oc-compute-1 (undercloud server oc-compute-1 (id-oc-compute-1)): no trunk sub-port for VLAN "
        "102 (tenant-b); its trunks carry [101]"]
    assert vlan_carriage_problems(vlans, nodes, short, _ports(CMP1, CMP2), ["net-uc"]) == []


@pytest.mark.parametrize(("kind", "carrier_mtu", "red"), [("vxlan", 1500, True), ("vxlan", 1550, False),
                                                          ("geneve", 1549, False), ("geneve", 1549 - 1, True)])
def test_an_undercloud_mtu_below_the_overlay_mtu_plus_its_encapsulation_is_red(kind, carrier_mtu, red) -> None:
    # the undercloud needs the overlay MTU plus 50 for VXLAN, plus max_header_size (30) + 20 for Geneve
    mtu = 1500 if kind == "vxlan" else 1499
    overlay = OverNetwork("net-oc", "oc-tenant", mtu, ((kind, 7),))
    problems = overlay_mtu_problems([overlay], {"net-uc": ("uc-tunnels", carrier_mtu)}, geneve_max_header_size=30)
    assert bool(problems) is red
    if red:
        assert problems[0].startswith(f"undercloud network uc-tunnels (net-uc) MTU {carrier_mtu} < overcloud {kind}")


def test_only_bridging_ports_with_port_security_on_are_red() -> None:
    ports = [UnderPort("p-on", "n", "s", True), UnderPort("p-off", "n", "s", False),
             UnderPort("p-other", "n", "s", True)]
    assert port_security_problems(ports, {"p-on": "trunk parent", "p-off": "trunk sub-port"}) == [
        "undercloud port p-on (trunk parent): port security is on"]


def test_nested_virtualisation_needs_the_module_parameter_and_vmx_in_the_guest_cpu() -> None:
    assert nested_cpu_problems("Y\n", "host-passthrough", "") == []
    assert nested_cpu_problems("1", "host-model", "+vmx") == []
    assert nested_cpu_problems("N", "host-passthrough", "") == ["kvm nested='N'"]
    assert nested_cpu_problems(None, "host-model", "pcid") == [
        "no /sys/module/kvm_intel or kvm_amd parameters/nested (no KVM module that nests)",
        "[libvirt] cpu_mode=host-model and cpu_model_extra_flags=pcid: the guest CPU has no vmx/svm"]


def test_virt_type_kvm_is_red_without_dev_kvm_or_vmx_and_qemu_is_green_anywhere() -> None:
    assert virt_type_problems("qemu", False, []) == []
    assert virt_type_problems("kvm", True, ["svm", "sse"]) == []
    assert virt_type_problems("kvm", False, ["sse"]) == ["[libvirt] virt_type=kvm without /dev/kvm and vmx/svm: "
                                                         "every boot fails"]
    assert virt_type_problems("kvm", True, ["sse"]) == ["[libvirt] virt_type=kvm without vmx/svm: every boot fails"]
    assert virt_type_problems("lxc", True, ["vmx"]) == ["[libvirt] virt_type='lxc': neither kvm nor qemu"]


def test_a_compute_runs_kvm_only_with_virt_type_kvm_on_an_instance_that_offers_it() -> None:
    def compute(virt_type: str, dev_kvm: bool, flags: set[str]) -> OvercloudCompute:
        return OvercloudCompute("oc-compute-0", "role oc-compute", virt_type, dev_kvm, frozenset(flags))

    assert compute("kvm", True, {"vmx"}).runs_kvm
    assert not compute("kvm", False, {"vmx"}).runs_kvm
    assert not compute("kvm", True, {"sse"}).runs_kvm
    assert not compute("qemu", True, {"svm"}).runs_kvm, "virt_type qemu never runs KVM guests"
