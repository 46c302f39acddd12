"""The overcloud's computes as their hosts show them: the hypervisor each runs ([libvirt] virt_type) and
whether its undercloud instance offers virtualisation (/dev/kvm, vmx/svm in the CPU)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackproof.findings import expect
from suites.nested.rules import virt_type_problems


@dataclass(frozen=True)
class OvercloudCompute:
    name: str  # as the overcloud's compute services name it
    where: str
    virt_type: str
    has_dev_kvm: bool
    cpu_flags: frozenset[str]

    @property
    def runs_kvm(self) -> bool:
        """It really runs KVM guests: virt_type kvm on an instance that offers virtualisation (SP-NEST-007)."""
        return self.virt_type == "kvm" and not virt_type_problems(self.virt_type, self.has_dev_kvm, self.cpu_flags)


def _cpu_flags(host: Any) -> frozenset[str]:
    flags: set[str] = set()
    for line in host.file("/proc/cpuinfo").content_string.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return frozenset(flags)


def overcloud_computes(nested_design: Any, overcloud: Any, hosts: Any) -> tuple[list[OvercloudCompute], list[str]]:
    """Every nova-compute the overcloud lists, read on its inventory host; and a line per one the inventory
    does not describe (not evaluated)."""
    names = sorted({service.host for service in overcloud.compute.services(binary="nova-compute")})
    expect(bool(names), "the overcloud has no nova-compute", expected="overcloud computes", found="none",
           where="overcloud compute API os-services")
    scope = hosts.scope(names, "nova", roles=nested_design.overcloud_compute_roles, claims=())

    def read(item) -> OvercloudCompute:
        virt_type = item.conf.get("libvirt", "virt_type", fallback="").strip() or "kvm"  # nova's default
        return OvercloudCompute(item.name, item.where, virt_type, item.host.file("/dev/kvm").exists,
                                _cpu_flags(item.host))

    computes = hosts.each([items[0] for _name, items in sorted(scope.covered.items())], read)
    return computes, scope.gaps("nova-compute")
