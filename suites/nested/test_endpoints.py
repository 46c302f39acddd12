"""NEST-1: the overcloud's public endpoints answer from the runner, on addresses the undercloud publishes."""

from __future__ import annotations

import pytest
from keystoneauth1 import exceptions as ks_exc

from stackproof.findings import expect
from suites.nested import nodes as read
from suites.nested.rules import endpoint_problems, internal_networks

pytestmark = [pytest.mark.nested]

PROBE_SECONDS = 10  # a version document; a published endpoint answers in well under a second


def _answer(overcloud, url: str) -> int | str:
    """The endpoint's HTTP status for an unauthenticated GET (its version document), or why none came. A
    catalogue URL may end in a template (``/v3/%(project_id)s``): the part before it is asked."""
    probe = url.split("%(", 1)[0].split("$(", 1)[0]
    try:
        response = overcloud.session.get(probe, authenticated=False, raise_exc=False, timeout=PROBE_SECONDS,
                                         connect_retries=0)
    except ks_exc.ClientException as exc:
        return f"no answer ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
    return response.status_code


@pytest.mark.control(
    "SP-NEST-001",
    title="Overcloud endpoints answer from the runner, on no undercloud-internal address",
    statement="A complete OpenStack environment runs on instances of an underlying OpenStack: its endpoints "
              "are reached through what the undercloud publishes, not through the undercloud's tenant networks.",
)
@pytest.mark.readonly
def test_overcloud_endpoints_answer_from_the_runner(nested_design, undercloud, overcloud) -> None:
    endpoints = read.overcloud_endpoints(overcloud)
    expect(bool(endpoints), "the overcloud's catalogue has no public endpoint", expected="public endpoints",
           found="none", where="overcloud identity API /v3/endpoints?interface=public")
    answers = {endpoint.url: _answer(overcloud, endpoint.url) for endpoint in endpoints}
    internal = internal_networks(read.undercloud_subnets(undercloud))
    problems = endpoint_problems(endpoints, internal, answers)
    expect(not problems, f"{len(problems)} problem(s) with the overcloud's {len(endpoints)} public endpoints",
           expected="every public endpoint answers below 500 from the runner, on no address of an undercloud "
                    f"tenant subnet ({', '.join(map(str, internal)) or 'none'})",
           found="; ".join(problems),
           where="; ".join(f"{e.service} {e.url} -> {', '.join(e.addresses)}: {answers[e.url]}" for e in endpoints))
