"""NEST-2 and NEST-3: the overcloud's nodes are live undercloud servers, its controllers spread over hosts."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from suites.nested.rules import shared_host_problems

pytestmark = [pytest.mark.nested]


@pytest.mark.control(
    "SP-NEST-002",
    title="Every overcloud hypervisor is an ACTIVE undercloud server on a host that is UP",
    statement="A complete OpenStack environment is provisioned on instances of an underlying OpenStack: each "
              "overcloud compute is an undercloud instance, and a stopped one or one on a failed host is a "
              "lost compute.",
)
@pytest.mark.readonly
def test_overcloud_hypervisors_are_live_undercloud_servers(nested_design, overcloud_nodes) -> None:
    nodes = overcloud_nodes.hypervisors
    expect(bool(nodes.found or nodes.problems), "the overcloud lists no hypervisor", expected="hypervisors",
           found="none", where="overcloud compute API os-hypervisors")
    expect(not nodes.problems, f"{len(nodes.problems)} overcloud hypervisor(s) are not live undercloud servers",
           expected="each overcloud hypervisor's host_ip an address of exactly one undercloud server, ACTIVE, "
                    "host_status UP",
           found="; ".join(nodes.problems),
           where="; ".join([f"{name}: {s.label}, {s.status} on {s.compute_host} ({s.host_status or '?'})"
                            for name, s in sorted(nodes.found.items())]
                           + ["overcloud os-hypervisors host_ip; undercloud servers/detail?all_tenants addresses"]))


@pytest.mark.control(
    "SP-NEST-003",
    title="Overcloud controllers sit on distinct undercloud hosts",
    statement="A complete OpenStack environment runs on instances of an underlying OpenStack: its control plane "
              "survives the loss of one undercloud host only if no two controllers share one.",
)
@pytest.mark.readonly
def test_overcloud_controllers_sit_on_distinct_undercloud_hosts(nested_design, overcloud_nodes) -> None:
    controllers = overcloud_nodes.controllers
    expect(bool(controllers.found or controllers.problems), "the overcloud runs no control service",
           expected="hosts running nova-scheduler, nova-conductor (or cinder-scheduler)", found="none",
           where="overcloud compute and block-storage API os-services")
    problems = controllers.problems + shared_host_problems(controllers.found)
    expect(not problems, f"{len(problems)} problem(s) with where the overcloud's controllers run",
           expected="each overcloud controller an undercloud server (by hostname), no two on one undercloud host",
           found="; ".join(problems),
           where="; ".join([f"{name} ({', '.join(overcloud_nodes.control_services[name])}): {s.label} on "
                            f"{s.compute_host}" for name, s in sorted(controllers.found.items())]
                           + ["overcloud os-services hosts; undercloud servers/detail?all_tenants hostname, name, "
                              "host"]))
