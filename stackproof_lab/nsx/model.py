"""What the lab NSX manager knows: the Policy resource table, the intent, its realization and group membership.

The table (KINDS) is the whole API surface: each kind is an intent path template under ``/infra``, the
``resource_type`` NSX gives it, the children it embeds in its body (a security policy's ``rules``, a
service's ``service_entries``, as the Policy API and vmware-nsxlib exchange them) and the realized entity
it becomes. Adding a kind is one entry.

Realization is computed from the intent, not scripted: an object is REALIZED when what it refers to exists
and is realized itself (a segment's transport zone, a port's segment, a rule's groups and services), else
ERROR with an alarm naming what is missing, as NSX reports a realization failure. Realized identifiers (a
segment's logical switch id, a port's logical port id) are made once, when the object is created, and kept.

The state is one JSON file (intent and realized ids), written after every change: the manager keeps it across
restarts. Everything here is readable through the API (``Store.realized``, ``Store.members``,
``Store.logical_switches``), which is what the lab vCenter and, later, the instance-endpoint renderer read.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Body = dict[str, Any]
ENFORCEMENT_POINT = "/infra/sites/default/enforcement-points/default"
# The "any" group or service a rule may name (vmware-nsxlib's constants.ANY_GROUP / ANY_SERVICE).
ANY = "ANY"
REALIZED, ERROR = "REALIZED", "ERROR"
# Error code of a realization failure whose cause is a missing or unrealized reference (NSX's "missing dependent
# objects"; the alarm's error_details.error_code: vmware-nsxlib keeps waiting on an ERROR without a code).
MISSING_REFERENCE = 500232
# Error code of a 404: vmware-nsxlib reads it as ResourceNotFound (some NSX codes it reads as a stale revision
# and retries).
NOT_FOUND = 600
FIRST_VNI = 65536  # NSX allocates overlay VNIs from its own pool (5000-16777215; 65536 here)


class NsxError(Exception):
    """An API error as NSX answers it: HTTP status, error_code, message."""

    def __init__(self, status: int, message: str, error_code: int = 0) -> None:
        super().__init__(message)
        self.status, self.message, self.error_code = status, message, error_code

    def body(self) -> Body:
        return {"httpStatus": {400: "BAD_REQUEST", 403: "FORBIDDEN", 404: "NOT_FOUND",
                               412: "PRECONDITION_FAILED"}.get(self.status, "ERROR"),
                "error_code": self.error_code or self.status, "module_name": "policy", "error_message": self.message}


def _paths_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("/infra/") else []
    if isinstance(value, list):
        return [p for item in value for p in _paths_in(item)]
    return []


def _segment_refs(body: Body) -> list[str]:
    return _paths_in(body.get("transport_zone_path"))


def _group_refs(body: Body) -> list[str]:
    return [p for expr in body.get("expression") or [] if expr.get("resource_type") == "PathExpression"
            for p in _paths_in(expr.get("paths"))]


def _rule_refs(body: Body) -> list[str]:
    return [p for key in ("source_groups", "destination_groups", "services", "scope")
            for p in _paths_in(body.get(key)) if p != ANY]


@dataclass(frozen=True)
class Kind:
    resource_type: str
    pattern: str  # intent path template, e.g. /infra/segments/{segment}
    children: dict[str, str] = field(default_factory=dict)  # body key -> child resource_type
    realized_as: str | None = None  # entity_type of the realized entity; None: realized with its parent
    refs: Callable[[Body], list[str]] = lambda body: []  # intent paths it needs, besides its parent
    defaults: Body = field(default_factory=dict)

    @property
    def parts(self) -> list[str]:
        return self.pattern.strip("/").split("/")

    def match(self, parts: list[str]) -> bool:
        mine = self.parts
        return len(parts) == len(mine) and all(m.startswith("{") or m == p for m, p in zip(mine, parts, strict=True))


KINDS: tuple[Kind, ...] = (
    Kind("Site", "/infra/sites/{site}"),
    Kind("EnforcementPoint", "/infra/sites/{site}/enforcement-points/{ep}"),
    Kind("PolicyTransportZone", "/infra/sites/{site}/enforcement-points/{ep}/transport-zones/{tz}",
         realized_as="RealizedTransportZone"),
    Kind("Domain", "/infra/domains/{domain}"),
    Kind("Group", "/infra/domains/{domain}/groups/{group}", realized_as="RealizedNSGroup", refs=_group_refs),
    Kind("SecurityPolicy", "/infra/domains/{domain}/security-policies/{policy}", children={"rules": "Rule"},
         realized_as="RealizedFirewallSection", defaults={"category": "Application", "stateful": True}),
    Kind("Rule", "/infra/domains/{domain}/security-policies/{policy}/rules/{rule}", refs=_rule_refs,
         defaults={"action": "ALLOW", "direction": "IN_OUT", "ip_protocol": "IPV4_IPV6", "logged": False,
                   "disabled": False, "source_groups": [ANY], "destination_groups": [ANY], "services": [ANY],
                   "scope": [ANY]}),
    Kind("Service", "/infra/services/{service}", children={"service_entries": "ServiceEntry"},
         realized_as="RealizedNSService"),
    Kind("ServiceEntry", "/infra/services/{service}/service-entries/{entry}"),
    Kind("Segment", "/infra/segments/{segment}", realized_as="RealizedLogicalSwitch", refs=_segment_refs,
         defaults={"admin_state": "UP", "replication_mode": "MTEP", "type": "DISCONNECTED"}),
    Kind("SegmentPort", "/infra/segments/{segment}/ports/{port}", realized_as="RealizedLogicalPort",
         defaults={"admin_state": "UP"}),
    Kind("PortSecurityProfileBindingMap",
         "/infra/segments/{segment}/ports/{port}/port-security-profile-binding-maps/{map}"),
    Kind("PortDiscoveryProfileBindingMap",
         "/infra/segments/{segment}/ports/{port}/port-discovery-profile-binding-maps/{map}"),
    Kind("PortQoSProfileBindingMap", "/infra/segments/{segment}/ports/{port}/port-qos-profile-binding-maps/{map}"),
    Kind("SpoofGuardProfile", "/infra/spoofguard-profiles/{profile}"),
    Kind("SegmentSecurityProfile", "/infra/segment-security-profiles/{profile}"),
    Kind("MacDiscoveryProfile", "/infra/mac-discovery-profiles/{profile}"),
    Kind("IPDiscoveryProfile", "/infra/ip-discovery-profiles/{profile}"),
    Kind("QoSProfile", "/infra/qos-profiles/{profile}"),
)
BY_TYPE = {kind.resource_type: kind for kind in KINDS}


def split(path: str) -> list[str]:
    return [part for part in path.strip("/").split("/") if part]


def kind_of(path: str) -> Kind | None:
    """The kind of an object path (/infra/segments/x), or None."""
    parts = split(path)
    return next((kind for kind in KINDS if kind.match(parts)), None)


def collection_kind(path: str) -> Kind | None:
    """The kind listed by a collection path (/infra/segments/x/ports), or None."""
    parts = split(path)
    return next((kind for kind in KINDS if kind.match([*parts, "x"])), None)


def parent_of(path: str) -> str:
    return "/" + "/".join(split(path)[:-2]) if len(split(path)) > 2 else "/infra"


def _now_ms() -> int:
    return int(time.time() * 1000)


class Store:
    """The manager's state: intent objects by path, realized ids, persisted to ``state_file``."""

    def __init__(self, state_file: Path, bootstrap: list[tuple[str, Body]]) -> None:
        self._file = state_file
        self._lock = threading.RLock()
        self.objects: dict[str, Body] = {}
        self.realized_ids: dict[str, str] = {}
        self.vnis: dict[str, int] = {}
        if state_file.exists():
            saved = json.loads(state_file.read_text())
            self.objects, self.realized_ids = saved["objects"], saved["realized_ids"]
            self.vnis = saved.get("vnis", {})
        for path, body in bootstrap:
            if path not in self.objects:
                self.patch(path, body, user="system")

    # --- persistence -------------------------------------------------------------------------------

    def _save(self) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"objects": self.objects, "realized_ids": self.realized_ids, "vnis": self.vnis},
                                  indent=1, sort_keys=True))
        os.replace(tmp, self._file)

    # --- reads -------------------------------------------------------------------------------------

    def get(self, path: str) -> Body:
        with self._lock:
            body = self.objects.get(path)
            if body is None:
                raise NsxError(404, f"The path={path} is invalid or the object does not exist", NOT_FOUND)
            result = copy.deepcopy(body)
            kind = kind_of(path)
            for key, child_type in (kind.children if kind else {}).items():
                child_kind = BY_TYPE[child_type]
                result[key] = [copy.deepcopy(b) for p, b in self._children(path, child_kind)]
            return result

    def _children(self, parent: str, kind: Kind) -> Iterator[tuple[str, Body]]:
        depth = len(split(parent)) + 2
        for path in sorted(self.objects):
            if path.startswith(parent + "/") and len(split(path)) == depth and kind.match(split(path)):
                yield path, self.objects[path]

    def list(self, collection: str) -> list[Body]:
        kind = collection_kind(collection)
        if kind is None:
            raise NsxError(404, f"The path={collection} is not a collection of the Policy API", NOT_FOUND)
        parent = "/" + "/".join(split(collection)[:-1])
        with self._lock:
            if parent != "/infra" and parent not in self.objects:
                raise NsxError(404, f"The path={parent} is invalid or the object does not exist", NOT_FOUND)
            return [copy.deepcopy(b) for _, b in self._children(parent, kind)]

    # --- writes ------------------------------------------------------------------------------------

    def patch(self, path: str, body: Body, *, user: str = "admin", replace: bool = False) -> None:
        """Create or update (merge; ``replace``: PUT semantics with a revision check) an object and its
        embedded children."""
        kind = kind_of(path)
        if kind is None:
            raise NsxError(400, f"{path} is not an object path of the Policy API", 500012)
        body = copy.deepcopy(body)
        with self._lock:
            parent = parent_of(path)
            if parent != "/infra" and parent not in self.objects:
                raise NsxError(404, f"The parent {parent} of {path} does not exist", NOT_FOUND)
            children = {key: body.pop(key) for key in kind.children if isinstance(body.get(key), list)}
            self._put_one(path, kind, body, user, replace)
            for key, items in children.items():
                child_kind = BY_TYPE[kind.children[key]]
                segment = child_kind.parts[-2]
                for item in items:
                    if not item.get("id"):
                        raise NsxError(400, f"an entry of {key} of {path} has no id", 500012)
                    self._put_one(f"{path}/{segment}/{item['id']}", child_kind, copy.deepcopy(item), user, replace)
            self._save()

    def _put_one(self, path: str, kind: Kind, body: Body, user: str, replace: bool) -> None:
        existing = self.objects.get(path)
        if replace and existing is not None and "_revision" in body and body["_revision"] != existing["_revision"]:
            raise NsxError(412, f"The object {path} was modified by somebody else (revision "
                                f"{existing['_revision']}, request {body['_revision']})", 602)
        now = _now_ms()
        ident = split(path)[-1]
        if existing is None or replace:
            base: Body = dict(kind.defaults)
            if existing is not None:
                base.update({k: v for k, v in existing.items() if k.startswith("_") or k == "unique_id"})
        else:
            base = existing
        merged = {**base, **{k: v for k, v in body.items() if not k.startswith("_")}}
        merged.update({
            "resource_type": kind.resource_type, "id": ident, "display_name": merged.get("display_name") or ident,
            "path": path, "relative_path": ident, "parent_path": parent_of(path),
            "marked_for_delete": False, "overridden": False, "_protection": "NOT_PROTECTED",
            "_system_owned": user == "system",
            "_create_user": base.get("_create_user", user), "_create_time": base.get("_create_time", now),
            "_last_modified_user": user, "_last_modified_time": now,
            "_revision": existing["_revision"] + 1 if existing is not None else 0,
        })
        merged.setdefault("unique_id", str(uuid.uuid4()))
        if kind.resource_type == "Segment" and merged.get("connectivity_path"):
            merged["type"] = "ROUTED"
        self.objects[path] = merged
        if kind.realized_as and path not in self.realized_ids:
            self.realized_ids[path] = str(uuid.uuid4())
        if kind.resource_type == "Segment" and path not in self.vnis:
            used = set(self.vnis.values())
            self.vnis[path] = next(vni for vni in itertools.count(FIRST_VNI) if vni not in used)

    def delete(self, path: str) -> None:
        """Delete an object and what lives under it; a segment with ports is refused, as NSX does."""
        with self._lock:
            if path not in self.objects:
                return  # the Policy API's DELETE is idempotent
            kind = kind_of(path)
            if kind is not None and kind.resource_type == "Segment":
                ports = [p for p, _ in self._children(path, BY_TYPE["SegmentPort"])]
                if ports:
                    raise NsxError(400, f"Segment {path} still has {len(ports)} port(s), e.g. {ports[0]}", 503040)
            for doomed in [p for p in self.objects if p == path or p.startswith(path + "/")]:
                del self.objects[doomed]
                self.realized_ids.pop(doomed, None)
                self.vnis.pop(doomed, None)
            self._save()

    # --- realization -------------------------------------------------------------------------------

    def _problems(self, path: str, seen: frozenset[str] = frozenset()) -> list[str]:
        """Why ``path`` cannot be realized (empty: it is)."""
        if path in seen:
            return []
        body = self.objects.get(path)
        if body is None:
            return [f"{path} does not exist"]
        kind = kind_of(path)
        problems = []
        parent = parent_of(path)
        if parent in self.objects and kind_of(parent) and kind_of(parent).realized_as:
            problems += [f"its parent: {p}" for p in self._problems(parent, seen | {path})]
        for ref in kind.refs(body) if kind else []:
            if ref not in self.objects:
                problems.append(f"{ref} does not exist")
            elif self._problems(ref, seen | {path}):
                problems.append(f"{ref} is not realized")
        if kind and kind.children:
            for key, child_type in kind.children.items():
                for child, _ in self._children(path, BY_TYPE[child_type]):
                    problems += [f"{key} {split(child)[-1]}: {p}" for p in self._problems(child, seen | {path})]
        return problems

    def realized(self, intent_path: str) -> list[Body]:
        """The realized entities of an intent path, in the format of
        GET /policy/api/v1/infra/realized-state/realized-entities?intent_path=..."""
        with self._lock:
            body = self.objects.get(intent_path)
            kind = kind_of(intent_path)
            if body is None or kind is None or kind.realized_as is None:
                return []
            problems = self._problems(intent_path)
            ident = self.realized_ids[intent_path]
            entity: Body = {
                "resource_type": "GenericPolicyRealizedResource",
                "id": ident,
                "display_name": body.get("display_name"),
                "path": f"/infra/realized-state/enforcement-points/default/"
                        f"{kind.realized_as.removeprefix('Realized').lower()}s/{ident}",
                "intent_paths": [intent_path],
                "intent_reference": [intent_path],
                "entity_type": kind.realized_as,
                "enforcement_point_path": ENFORCEMENT_POINT,
                "state": ERROR if problems else REALIZED,
                "publish_status": "ERROR" if problems else "SUCCESS",
                "runtime_status": "UNINITIALIZED",
                "alarms": [],
                "_create_time": body["_create_time"],
                "_last_modified_time": body["_last_modified_time"],
            }
            if problems:
                message = f"{kind.resource_type} {intent_path} cannot be realized: {'; '.join(problems)}"
                entity["alarms"] = [{"message": message, "error_details": {
                    "error_code": MISSING_REFERENCE, "module_name": "policy", "error_message": message}}]
            else:
                entity["realization_specific_identifier"] = ident
            return [entity]

    def is_realized(self, intent_path: str) -> bool:
        return any(e["state"] == REALIZED for e in self.realized(intent_path))

    # --- effective membership (what a distributed firewall enforces) -------------------------------

    def members(self, group_path: str) -> tuple[list[str], list[str]]:
        """(segment port paths, IP addresses/prefixes) the group's expression selects, as
        .../groups/<id>/members/segment-ports and .../members/ip-addresses report them."""
        with self._lock:
            group = self.objects.get(group_path)
            if group is None or kind_of(group_path) is not BY_TYPE["Group"]:
                raise NsxError(404, f"The path={group_path} is invalid or the object does not exist", NOT_FOUND)
            ports = {p: b for p, b in self.objects.items() if b.get("resource_type") == "SegmentPort"}
            selected: set[str] | None = None
            addresses: list[str] = []
            operator = "OR"
            for expr in group.get("expression") or []:
                rtype = expr.get("resource_type")
                if rtype == "ConjunctionOperator":
                    operator = expr.get("conjunction_operator", "OR")
                    continue
                if rtype == "Condition":
                    found = {p for p, b in ports.items() if _condition_holds(expr, b)}
                elif rtype == "PathExpression":
                    found = {p for p in _paths_in(expr.get("paths")) if p in ports}
                elif rtype == "IPAddressExpression":
                    addresses += [str(ipaddress.ip_network(a, strict=False)) for a in expr.get("ip_addresses") or []]
                    continue
                else:
                    continue
                selected = found if selected is None else (selected & found if operator == "AND" else selected | found)
            return sorted(selected or set()), addresses

    # --- the management plane's view ---------------------------------------------------------------

    def logical_switches(self) -> list[Body]:
        """Realized segments as the management plane lists them (GET /api/v1/logical-switches): what a
        transport node (an ESXi host's opaque networks, a KVM host's NSX bridge) learns."""
        with self._lock:
            result = []
            for path, body in sorted(self.objects.items()):
                if body.get("resource_type") != "Segment" or not self.is_realized(path):
                    continue
                tz = self.objects.get(body.get("transport_zone_path") or "", {})
                result.append({
                    "resource_type": "LogicalSwitch", "id": self.realized_ids[path],
                    "display_name": body.get("display_name"), "admin_state": body.get("admin_state", "UP"),
                    "transport_zone_id": tz.get("id"), "vni": self.vnis.get(path), "vlan_ids": body.get("vlan_ids"),
                    "replication_mode": body.get("replication_mode"), "tags": [{"scope": "policyPath", "tag": path}],
                })
            return result

    def logical_ports(self) -> list[Body]:
        """Realized segment ports as the management plane lists them (GET /api/v1/logical-ports)."""
        with self._lock:
            result = []
            for path, body in sorted(self.objects.items()):
                if body.get("resource_type") != "SegmentPort" or not self.is_realized(path):
                    continue
                segment = parent_of(path)
                attachment = body.get("attachment") or {}
                result.append({
                    "resource_type": "LogicalPort", "id": self.realized_ids[path],
                    "display_name": body.get("display_name"), "admin_state": body.get("admin_state", "UP"),
                    "logical_switch_id": self.realized_ids.get(segment),
                    "attachment": {"attachment_type": attachment.get("type", "VIF"), "id": attachment["id"]}
                    if attachment.get("id") else None,
                    "address_bindings": body.get("address_bindings") or [],
                    "tags": [*(body.get("tags") or []), {"scope": "policyPath", "tag": path}],
                })
            return result


    # --- the distributed firewall as transport nodes enforce it --------------------------------------

    def vif_firewall(self) -> list[Body]:
        """Per realized segment port with a VIF attachment: its logical switch and VNI and the ordered rules that
        apply to it, groups and services already resolved (remote addresses, protocols and ports).

        What NSX's central control plane computes and pushes to each transport node's distributed firewall; real
        NSX has no public API for it (its nodes get it over the control channel), the lab serves it for its node
        agents (stackproof_lab/dataplane) at /api/v1/lab/vif-firewall. Policies in category order, then by
        sequence number; rules by sequence number; the first rule that matches decides, as in NSX."""
        with self._lock:
            ports = {p: b for p, b in self.objects.items()
                     if b.get("resource_type") == "SegmentPort" and self.is_realized(p)}
            groups = [p for p, b in self.objects.items() if b.get("resource_type") == "Group"]
            membership = {g: self.members(g) for g in groups}
            policies = sorted(((p, b) for p, b in self.objects.items() if b.get("resource_type") == "SecurityPolicy"),
                              key=lambda item: (_category_rank(item[1]), item[1].get("sequence_number", 0), item[0]))
            ordered = [(policy, rule) for policy, _ in policies
                       for _, rule in sorted(self._children(policy, BY_TYPE["Rule"]),
                                             key=lambda item: (item[1].get("sequence_number", 0), item[0]))
                       if not rule.get("disabled")]
            result = []
            for path, port in sorted(ports.items()):
                attachment = (port.get("attachment") or {}).get("id")
                if not attachment:
                    continue
                mine = {g for g, (members, _) in membership.items() if path in members}
                segment = parent_of(path)
                result.append({
                    "port": attachment, "segment_path": segment, "logical_switch_id": self.realized_ids.get(segment),
                    "vni": self.vnis.get(segment), "address_bindings": port.get("address_bindings") or [],
                    "rules": [entry for policy, rule in ordered
                              for entry in self._entries(rule, mine, membership, ports)],
                })
            return result

    def _entries(self, rule: Body, mine: set[str], membership: dict[str, tuple[list[str], list[str]]],
                 ports: dict[str, Body]) -> list[Body]:
        """A rule as it applies to a port in groups ``mine``: one entry per direction that concerns the port."""
        def applies(groups: list[str]) -> bool:
            return ANY in groups or bool(mine & set(groups))

        def addresses(groups: list[str]) -> list[str] | None:
            if ANY in groups:
                return None
            found: set[str] = set()
            for group in groups:
                members, prefixes = membership.get(group, ([], []))
                found.update(prefixes)
                for member in members:
                    for binding in ports.get(member, {}).get("address_bindings") or []:
                        ip = binding.get("ip_address")
                        found.add(str(ipaddress.ip_network(ip.get("ip_address") if isinstance(ip, dict) else ip,
                                                           strict=False)))
            return sorted(found)

        if not applies(rule.get("scope") or [ANY]):
            return []
        directions = {"IN_OUT": ("IN", "OUT")}.get(rule.get("direction", "IN_OUT"), (rule.get("direction"),))
        services = None if ANY in (rule.get("services") or [ANY]) else [
            self._service_match(entry) for service in rule["services"]
            for _, entry in self._children(service, BY_TYPE["ServiceEntry"])]
        entries = []
        for direction in directions:
            local, remote = (("destination_groups", "source_groups") if direction == "IN"
                             else ("source_groups", "destination_groups"))
            if not applies(rule.get(local) or [ANY]):
                continue
            entries.append({"rule": rule["path"], "direction": direction, "action": rule.get("action", "ALLOW"),
                            "ip_protocol": rule.get("ip_protocol", "IPV4_IPV6"),
                            "remote": addresses(rule.get(remote) or [ANY]), "services": services})
        return entries

    @staticmethod
    def _service_match(entry: Body) -> Body:
        """A service entry as a packet match: protocol (tcp, udp, icmp, icmpv6 or a number) and its ports or type.
        Read from its fields (the store keeps every entry as ServiceEntry, whatever type the client sent)."""
        if entry.get("l4_protocol"):
            return {"protocol": str(entry["l4_protocol"]).lower(),
                    "ports": [str(p) for p in entry.get("destination_ports") or []]}
        if str(entry.get("protocol", "")).startswith("ICMP"):
            return {"protocol": "icmpv6" if entry["protocol"] == "ICMPv6" else "icmp",
                    "icmp_type": entry.get("icmp_type"), "icmp_code": entry.get("icmp_code")}
        if entry.get("protocol_number") is not None:
            return {"protocol": str(entry["protocol_number"])}
        return {"protocol": "unsupported", "entry": entry.get("path")}


CATEGORIES = ("Ethernet", "Emergency", "Infrastructure", "Environment", "Application")  # NSX's evaluation order


def _category_rank(policy: Body) -> int:
    category = policy.get("category", "Application")
    return CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)


def _condition_holds(condition: Body, port: Body) -> bool:
    """A Condition on segment port tags (member_type SegmentPort, key Tag, value "scope|tag")."""
    if condition.get("member_type") not in ("SegmentPort", "LogicalPort") or condition.get("key") != "Tag":
        return False
    scope, _, tag = str(condition.get("value", "")).partition("|")
    tags = {(t.get("scope", ""), t.get("tag", "")) for t in port.get("tags") or []}
    operator = condition.get("operator", "EQUALS")
    if operator == "EQUALS":
        # "scope|" (no tag) selects every port with a tag of that scope, as nsx_p's default group relies on.
        return any(s == scope for s, _ in tags) if not tag else (scope, tag) in tags
    if operator == "CONTAINS":
        return any(s == scope and tag in t for s, t in tags)
    return False
