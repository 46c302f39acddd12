"""The lab NSX manager answers the Policy API as the NSX plugin uses it: driven here through vmware-nsxlib (the
plugin's own client, with its own session login), with the calls nsx_p makes for networks, ports and security
groups, and read back as an operator reads it (realized state, membership, paginated lists)."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request

import pytest
from nsxserver import OVERLAY_TZ, NsxServer
from vmware_nsxlib.v3 import config as nsxlib_config
from vmware_nsxlib.v3 import exceptions as nsxlib_exc
from vmware_nsxlib.v3 import nsx_constants
from vmware_nsxlib.v3.policy import NsxPolicyLib
from vmware_nsxlib.v3.policy import constants as policy_constants

DOMAIN, SG, NET, PORT, RULE = "project-1", "sg-1", "net-1", "port-1", "rule-1"


@pytest.fixture
def nsxlib(nsx_server: NsxServer, monkeypatch: pytest.MonkeyPatch) -> NsxPolicyLib:
    # requests lets these override a session's own CA file (nsxlib's default provider sets it on the session).
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return NsxPolicyLib(nsxlib_config.NsxLibConfig(
        nsx_api_managers=[nsx_server.url], username=nsx_server.user, password=nsx_server.password,
        ca_file=str(nsx_server.ca_file), insecure=False, retries=1, max_attempts=1, realization_max_attempts=2,
        realization_wait_sec=0.1))


def raw(server: NsxServer, method: str, path: str, body: object = None, password: str | None = None) -> tuple:
    """(status, decoded body) of one request, TLS verified with the manager's CA."""
    auth = base64.b64encode(f"{server.user}:{password or server.password}".encode()).decode()
    request = urllib.request.Request(server.url + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=str(server.ca_file))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            data = response.read()
            return response.status, json.loads(data) if data else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def network_and_port(lib: NsxPolicyLib) -> None:
    """What nsx_p does for a network and a port of it (create_network, _create_or_update_port_on_backend)."""
    lib.segment.create_or_overwrite("net-1_xxxxx...xxxxx", segment_id=NET, transport_zone_id=OVERLAY_TZ[0],
                                    tags=[{"scope": "os-neutron-net-id", "tag": NET}])
    binding = lib.segment_port.build_address_binding("192.0.2.10", "fa:16:3e:00:00:01")
    lib.segment_port.create_or_overwrite("port-1", NET, port_id=PORT, address_bindings=[binding], vif_id=PORT,
                                         tags=[{"scope": "os-security-group", "tag": SG}])


def security_group(lib: NsxPolicyLib) -> None:
    """What nsx_p does for a security group with one ssh rule (create_security_group, _create_..._backend_rule)."""
    lib.domain.create_or_overwrite(name=DOMAIN, domain_id=DOMAIN)
    condition = lib.group.build_condition(cond_val=f"os-security-group|{SG}",
                                          cond_key=policy_constants.CONDITION_KEY_TAG,
                                          cond_member_type=policy_constants.CONDITION_MEMBER_PORT)
    lib.group.create_or_overwrite_with_conditions("sg-1", DOMAIN, group_id=SG, conditions=[condition])
    lib.comm_map.create_or_overwrite_map_only("sg-1", DOMAIN, map_id=SG,
                                              category=policy_constants.CATEGORY_ENVIRONMENT)
    service = lib.service.create_or_overwrite("ssh", service_id=RULE, protocol=nsx_constants.TCP, dest_ports=["22"])
    lib.comm_map.create_entry(RULE, DOMAIN, SG, entry_id=RULE, service_ids=[service], source_groups=None,
                              dest_groups=[SG], scope=[lib.group.get_path(DOMAIN, SG)], direction=nsx_constants.IN,
                              ip_protocol=nsx_constants.IPV4)


def test_a_network_and_port_are_a_realized_segment_and_segment_port(nsxlib: NsxPolicyLib,
                                                                    nsx_server: NsxServer) -> None:
    network_and_port(nsxlib)
    segment = nsxlib.segment.get(NET)
    assert segment["transport_zone_path"].endswith(f"/transport-zones/{OVERLAY_TZ[0]}")
    assert segment["resource_type"] == "Segment" and segment["path"] == f"/infra/segments/{NET}"
    switch = nsxlib.segment.get_realized_logical_switch_id(NET)  # what nsx_p binds ports with
    assert switch and nsxlib.segment.get_realized_logical_switch_id(NET) == switch, "a stable logical switch id"
    port = nsxlib.segment_port.get(NET, PORT)
    assert port["attachment"] == {"id": PORT}
    assert port["address_bindings"][0]["mac_address"] == "fa:16:3e:00:00:01"
    assert [p["id"] for p in nsxlib.segment_port.list(NET)] == [PORT]
    # The management plane's view: what the lab vCenter makes its opaque networks from.
    status, switches = raw(nsx_server, "GET", "/api/v1/logical-switches")
    assert status == 200 and [s["id"] for s in switches["results"]] == [switch]
    assert switches["results"][0]["tags"] == [{"scope": "policyPath", "tag": f"/infra/segments/{NET}"}]
    _, ports = raw(nsx_server, "GET", "/api/v1/logical-ports")
    assert ports["results"][0]["attachment"] == {"attachment_type": "VIF", "id": PORT}
    assert ports["results"][0]["logical_switch_id"] == switch


def test_a_security_group_is_a_group_and_a_policy_with_its_rules(nsxlib: NsxPolicyLib,
                                                                 nsx_server: NsxServer) -> None:
    network_and_port(nsxlib)
    security_group(nsxlib)
    policy = nsxlib.comm_map.get(DOMAIN, SG)
    assert policy["category"] == "Environment" and [r["id"] for r in policy["rules"]] == [RULE]
    rule = policy["rules"][0]
    assert rule["services"] == [f"/infra/services/{RULE}"] and rule["source_groups"] == ["ANY"]
    assert rule["destination_groups"] == [f"/infra/domains/{DOMAIN}/groups/{SG}"] and rule["direction"] == "IN"
    assert nsxlib.comm_map.get_realized_state(DOMAIN, SG) == "REALIZED"
    assert [g["id"] for g in nsxlib.group.list(DOMAIN)] == [SG]
    # Effective membership: the port carries the group's tag.
    _, members = raw(nsx_server, "GET", f"/policy/api/v1/infra/domains/{DOMAIN}/groups/{SG}/members/segment-ports")
    assert [m["path"] for m in members["results"]] == [f"/infra/segments/{NET}/ports/{PORT}"]
    nsxlib.comm_map.delete_entry(DOMAIN, SG, RULE)
    assert nsxlib.comm_map.get(DOMAIN, SG)["rules"] == []


def test_a_rule_naming_a_missing_group_is_not_realized_and_says_why(nsxlib: NsxPolicyLib) -> None:
    security_group(nsxlib)
    nsxlib.comm_map.create_entry("rule-2", DOMAIN, SG, entry_id="rule-2", source_groups=["no-such-group"],
                                 dest_groups=[SG], direction=nsx_constants.IN)
    info = nsxlib.comm_map.get_realization_info(DOMAIN, SG)
    assert info["state"] == "ERROR"
    assert f"/infra/domains/{DOMAIN}/groups/no-such-group does not exist" in info["alarms"][0]["message"]


def test_a_segment_in_a_missing_transport_zone_is_not_realized(nsxlib: NsxPolicyLib) -> None:
    nsxlib.segment.create_or_overwrite("lost", segment_id="lost", transport_zone_id="no-such-tz")
    info = nsxlib.segment.get_realization_info("lost", entity_type="RealizedLogicalSwitch")
    assert info["state"] == "ERROR" and "realization_specific_identifier" not in info
    with pytest.raises(nsxlib_exc.RealizationErrorStateError):
        nsxlib.segment.get_realized_logical_switch_id("lost")


def test_a_segment_with_ports_is_not_deleted(nsxlib: NsxPolicyLib) -> None:
    network_and_port(nsxlib)
    with pytest.raises(nsxlib_exc.ManagerError):
        nsxlib.segment.delete(NET)
    nsxlib.segment_port.delete(NET, PORT)
    nsxlib.segment.delete(NET)
    with pytest.raises(nsxlib_exc.ResourceNotFound):
        nsxlib.segment.get(NET)


def test_lists_are_paginated_with_a_cursor(nsxlib: NsxPolicyLib, nsx_server: NsxServer) -> None:
    for index in range(5):
        nsxlib.segment.create_or_overwrite(f"s{index}", segment_id=f"s{index}", transport_zone_id=OVERLAY_TZ[0])
    seen, cursor = [], ""
    while True:
        status, page = raw(nsx_server, "GET", f"/policy/api/v1/infra/segments?page_size=2&cursor={cursor}")
        assert status == 200 and page["result_count"] == 5 and len(page["results"]) <= 2
        seen += [s["id"] for s in page["results"]]
        cursor = page.get("cursor", "")
        if not cursor:
            break
    assert seen == [f"s{i}" for i in range(5)]
    assert [s["id"] for s in nsxlib.segment.list()] == seen


def test_state_survives_a_restart(nsxlib: NsxPolicyLib, nsx_server: NsxServer) -> None:
    network_and_port(nsxlib)
    switch = nsxlib.segment.get_realized_logical_switch_id(NET)
    nsx_server.stop()
    nsx_server.start()
    assert raw(nsx_server, "GET", f"/policy/api/v1/infra/segments/{NET}/ports/{PORT}")[0] == 200
    _, realized = raw(nsx_server, "GET",
                      f"/policy/api/v1/infra/realized-state/realized-entities?intent_path=/infra/segments/{NET}")
    assert realized["results"][0]["realization_specific_identifier"] == switch


def test_wrong_credentials_and_unknown_paths_are_refused(nsx_server: NsxServer) -> None:
    status, body = raw(nsx_server, "GET", "/policy/api/v1/infra/segments", password="wrong")
    assert status == 403 and body["error_code"] == 403
    assert raw(nsx_server, "GET", "/policy/api/v1/infra/segments/nope")[0] == 404
    assert raw(nsx_server, "PATCH", "/policy/api/v1/infra/no-such-kind/x", {"a": 1})[0] == 400
    assert raw(nsx_server, "POST", "/api/v1/logical-switches", {"a": 1})[0] == 400  # the MP view is read-only


def test_a_vifs_firewall_is_the_rules_that_apply_to_it_in_order(nsxlib: NsxPolicyLib, nsx_server: NsxServer) -> None:
    """What the lab's node agents enforce: per VIF, NSX's rules in evaluation order (Environment before
    Application), groups resolved to addresses, services to protocols and ports."""
    network_and_port(nsxlib)
    security_group(nsxlib)
    peer = nsxlib.segment_port.build_address_binding("192.0.2.11", "fa:16:3e:00:00:02")
    nsxlib.segment_port.create_or_overwrite("port-2", NET, port_id="port-2", address_bindings=[peer], vif_id="port-2",
                                            tags=[{"scope": "os-security-group", "tag": "sg-2"}])
    # A rule of the port's group that only port-2's group may use: remote addresses from membership.
    nsxlib.group.create_or_overwrite_with_conditions("sg-2", DOMAIN, group_id="sg-2", conditions=[
        nsxlib.group.build_condition(cond_val="os-security-group|sg-2", cond_key=policy_constants.CONDITION_KEY_TAG,
                                     cond_member_type=policy_constants.CONDITION_MEMBER_PORT)])
    icmp = nsxlib.icmp_service.create_or_overwrite("ping", service_id="rule-2", version=4, icmp_type=8)
    nsxlib.comm_map.create_entry("rule-2", DOMAIN, SG, entry_id="rule-2", service_ids=[icmp], source_groups=["sg-2"],
                                 dest_groups=[SG], scope=[nsxlib.group.get_path(DOMAIN, SG)],
                                 direction=nsx_constants.IN, ip_protocol=nsx_constants.IPV4, sequence_number=2)
    nsxlib.comm_map.create_with_entries(name="last", domain_id="default", map_id="last", entries=[
        nsxlib.comm_map.build_entry("Block All", "default", "last", "block", service_ids=None,
                                    action=policy_constants.ACTION_DENY, direction=nsx_constants.IN_OUT)],
        category=policy_constants.CATEGORY_APPLICATION)
    status, answer = raw(nsx_server, "GET", "/api/v1/lab/vif-firewall")
    assert status == 200
    mine = next(entry for entry in answer["results"] if entry["port"] == PORT)
    assert mine["vni"] and mine["address_bindings"][0]["ip_address"] == "192.0.2.10"
    summary = [(r["direction"], r["action"], r["remote"], r["services"]) for r in mine["rules"]]
    assert summary == [
        ("IN", "ALLOW", None, [{"protocol": "tcp", "ports": ["22"]}]),
        ("IN", "ALLOW", ["192.0.2.11/32"], [{"protocol": "icmp", "icmp_type": 8, "icmp_code": None}]),
        ("IN", "DROP", None, None),
        ("OUT", "DROP", None, None),
    ]
    # port-2 is in no group a rule scopes: only the global Block All applies to it.
    other = next(entry for entry in answer["results"] if entry["port"] == "port-2")
    assert [(r["direction"], r["action"]) for r in other["rules"]] == [("IN", "DROP"), ("OUT", "DROP")]
