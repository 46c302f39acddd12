"""NSX-9: every security group is an NSX group and a security policy that carries each of its rules."""

from __future__ import annotations

import pytest

from stackproof.findings import expect

pytestmark = [pytest.mark.nsx]


def _problems(policy, group, domains: dict[str, set[str]]) -> list[str]:
    """What is missing of the security group in NSX (domain = its project, ids = its id and its rules' ids)."""
    domain = group.project_id
    if group.id not in domains.setdefault(domain, {g["id"] for g in policy.groups(domain)}):
        return [f"no group /infra/domains/{domain}/groups/{group.id}"]
    section = policy.security_policy(domain, group.id)
    if section is None:
        return [f"no security policy /infra/domains/{domain}/security-policies/{group.id}"]
    wanted = {rule["id"] for rule in group.security_group_rules or []}
    have = {str(rule["id"]) for rule in section.get("rules") or []}
    missing = sorted(wanted - have)
    if missing or len(have) < len(wanted):
        return [f"security policy has {len(have)} rule(s) for {len(wanted)} Neutron rule(s); missing "
                f"{', '.join(missing)}"]
    return []


@pytest.mark.control(
    "SP-NSX-009",
    title="Every security group is an NSX group with a security policy carrying all its rules",
    statement="Security groups work on both hypervisors (legacy networking on vSphere had none): NSX enforces each "
              "Neutron security group as a group of ports and a distributed firewall policy with its rules.",
)
@pytest.mark.readonly
def test_security_groups_are_nsx_policies(neutron, nsx_manager) -> None:
    policy = nsx_manager.policy()
    groups = neutron.security_groups
    expect(bool(groups), "the cloud lists no security group to cross-check with NSX",
           expected="at least one security group (every project has its default)", found="none",
           where="network API /v2.0/security-groups")
    domains: dict[str, set[str]] = {}
    findings = [f"security group {g.name} ({g.id}, project {g.project_id}): {p}"
                for g in groups for p in _problems(policy, g, domains)]
    rules = sum(len(g.security_group_rules or []) for g in groups)
    expect(not findings, f"{len(findings)} of {len(groups)} security group(s) are not whole in NSX",
           expected="per security group: /infra/domains/<project>/groups/<group id> and security-policies/<group id> "
                    "with a rule per Neutron rule (by rule id)",
           found=findings, where=f"NSX manager {policy.url} (Policy API), {len(groups)} groups with {rules} rules")
