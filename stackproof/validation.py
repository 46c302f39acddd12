"""`stackproof validate`: everything about a target that can be checked before a run, every problem one line.

Offline: the schema (every problem, not the first), the files it names, each clouds.yaml entry a clouds role
uses (resolved as openstacksdk would, without a request), and every secret reference. With `connect`: each
cloud role authenticates and reaches its endpoints, each vCenter accepts a login, each host runs `true`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import testinfra

from stackproof import connections, vsphere
from stackproof.errors import StackproofError
from stackproof.target import Target, read


@dataclass
class Report:
    target: Target | None = None
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def add(self, problem: str) -> None:
        if problem not in self.problems:  # one broken clouds.yaml is one problem, not one per role
            self.problems.append(problem)


def validate(path: Path, connect: bool = False) -> Report:
    report = Report()
    target, problems = read(path)
    report.problems.extend(problems)
    if target is None:
        return report
    report.target = target
    roles = {role: entry for role, entry in target.clouds.model_dump().items() if entry}
    usable_roles = []
    if target.clouds_yaml is None or target.clouds_yaml.is_file():  # a missing file is already one problem
        usable_roles = [role for role in roles
                        if _attempt(report, lambda e=roles[role]: connections.region_of(target, e))]
        report.checked.append(f"clouds.yaml entries of {', '.join(roles)} resolve")
    resolved = {where for where, ref in target.secret_refs()
                if _attempt(report, lambda ref=ref, where=where: target.secret(ref, where))}
    report.checked.append(f"{len(target.secret_refs())} secret reference(s) resolve")
    if connect:
        for role in usable_roles:
            _attempt(report, lambda e=roles[role]: connections.probe(connections.connect(target, e), e))
        for name in target.vcenters:
            if f"vcenters.{name}.password" in resolved:
                _attempt(report, lambda name=name: vsphere.probe(target, name))
        _reach_hosts(report, target)
        report.checked.append("every cloud, vCenter and host answered")
    return report


def _attempt(report: Report, attempt: Callable[[], object]) -> bool:
    try:
        attempt()
    except StackproofError as exc:
        report.add(str(exc))
        return False
    return True


def _reach_hosts(report: Report, target: Target) -> None:
    for role, hosts in target.hosts.items():
        for url in hosts.urls:
            try:
                result = testinfra.get_host(url).run("true")
                failure = None if result.rc == 0 else f"`true` exited {result.rc}: {result.stderr.strip()[:200]}"
            except Exception as exc:  # a backend that cannot even start (no ssh binary, bad URL parameters)
                failure = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            if failure:
                report.add(f"hosts.{role}: {url}: cannot run a command: {failure}")
