"""NEST-6 and NEST-7: an overcloud compute runs KVM only where its undercloud instance really offers
virtualisation (nested KVM on the undercloud compute, vmx/svm in the guest CPU), else QEMU."""

from __future__ import annotations

import pytest

from stackproof.findings import expect
from suites.nested.computes import overcloud_computes
from suites.nested.rules import NESTED_CPU_FLAGS, nested_cpu_problems, virt_type_problems

pytestmark = [pytest.mark.nested]

KVM_MODULES = ("kvm_intel", "kvm_amd")


@pytest.mark.control(
    "SP-NEST-007",
    title="Overcloud computes use virt_type kvm only where /dev/kvm and vmx/svm exist, else qemu",
    statement="The nested hypervisor is KVM in an instance only where the instance offers virtualisation, or "
              "QEMU for small test clouds where speed does not matter.",
)
@pytest.mark.readonly
def test_overcloud_computes_use_kvm_only_where_offered(nested_design, overcloud, hosts) -> None:
    computes, gaps = overcloud_computes(nested_design, overcloud, hosts)
    problems = gaps + [f"{c.name} ({c.where}): {line}" for c in computes
                       for line in virt_type_problems(c.virt_type, c.has_dev_kvm, c.cpu_flags)]
    expect(not problems, f"{len(problems)} overcloud compute(s) use a hypervisor their instance cannot run",
           expected="[libvirt] virt_type kvm only with /dev/kvm and vmx/svm in the CPU; qemu elsewhere",
           found="; ".join(problems),
           where="; ".join(f"{c.name}: virt_type {c.virt_type}, /dev/kvm {'present' if c.has_dev_kvm else 'absent'}, "
                           f"cpu {'/'.join(sorted(c.cpu_flags & set(NESTED_CPU_FLAGS))) or 'no vmx/svm'}"
                           for c in computes))


def _nested_param(host) -> str | None:
    for module in KVM_MODULES:
        parameter = host.file(f"/sys/module/{module}/parameters/nested")
        if parameter.exists:
            return parameter.content_string
    return None


@pytest.mark.control(
    "SP-NEST-006",
    title="Undercloud computes expose nested virtualisation to overcloud computes that use KVM",
    statement="The nested hypervisor is KVM in an instance only where the instance offers virtualisation: the "
              "undercloud compute lets its guests nest and passes vmx/svm through to their CPU.",
)
@pytest.mark.readonly
def test_undercloud_computes_expose_nested_virtualisation(nested_design, overcloud, hosts, overcloud_nodes) -> None:
    computes, gaps = overcloud_computes(nested_design, overcloud, hosts)
    kvm = [c.name for c in computes if c.virt_type == "kvm"]
    if not kvm and not gaps:
        pytest.skip("no overcloud compute uses virt_type=kvm, so none needs nested virtualisation")
    nodes = overcloud_nodes.hypervisors.found
    problems = list(gaps) + [f"overcloud compute {name}: no undercloud server found for it (not evaluated)"
                             for name in kvm if name not in nodes]
    under = sorted({nodes[name].compute_host for name in kvm if name in nodes})
    scope = hosts.scope(under, "nova", roles=nested_design.undercloud_compute_roles, claims=())
    problems += scope.gaps("the undercloud nova-compute of a KVM overcloud compute")

    def read(item) -> list[str]:
        cpu_mode = item.conf.get("libvirt", "cpu_mode", fallback="").strip()
        flags = item.conf.get("libvirt", "cpu_model_extra_flags", fallback="").strip()
        return [f"undercloud compute {item.name} ({item.where}): {line}"
                for line in nested_cpu_problems(_nested_param(item.host), cpu_mode, flags)]

    for lines in hosts.each([items[0] for _name, items in sorted(scope.covered.items())], read):
        problems += lines
    expect(not problems, f"{len(problems)} problem(s) exposing nested virtualisation to KVM overcloud computes",
           expected="on the undercloud compute of every overcloud compute with virt_type kvm: kvm nested=Y and "
                    "[libvirt] cpu_mode host-passthrough (or vmx/svm in cpu_model_extra_flags)",
           found="; ".join(problems),
           where="; ".join([f"overcloud {name} on undercloud {nodes[name].compute_host}"
                            for name in kvm if name in nodes]
                           + ["overcloud os-services, nova.conf [libvirt] virt_type; undercloud servers' host, "
                              "/sys/module/kvm_*/parameters/nested, nova.conf [libvirt] cpu_mode"]))
