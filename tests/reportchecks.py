"""Checks for the report tests: every outcome a report must render, in two areas, with variants and measures."""

from stackproof.report.model import Case

CHECKS = """
import logging
from stackproof.findings import expect

@pytest.mark.control("SP-AGG-002", title="Aggregates exist", statement="A KVM and a VMware aggregate exist.")
@pytest.mark.readonly
@pytest.mark.placement
def test_pass(cloud):
    assert list(cloud.compute.servers()) == []

@pytest.mark.control("SP-AGG-011", title="DRS fully automated", statement="DRS must be Fully Automated.")
@pytest.mark.readonly
@pytest.mark.placement
def test_fail(cloud, target):
    list(cloud.network.networks())
    password = cloud.config.config["auth"]["password"]
    logging.getLogger("leaky").warning("about to fail with password %s", password)
    print("stdout carries it too:", password)
    expect(False, "DRS is not fully automated on cluster domain-c7",
           expected="fullyAutomated", found="partiallyAutomated", where="vCenter vc1, cluster domain-c7")

@pytest.mark.control("SP-AGG-005", title="Image types per provider", statement="Providers carry image types.")
@pytest.mark.readonly
@pytest.mark.placement
@pytest.mark.parametrize("hypervisor", ["kvm", "vmware"])
def test_variants(cloud, hypervisor):
    list(cloud.compute.servers())
    expect(hypervisor == "kvm", f"{hypervisor} providers lack COMPUTE_IMAGE_TYPE_VMDK",
           expected="COMPUTE_IMAGE_TYPE_VMDK", found="none", where=f"{hypervisor} providers")

@pytest.mark.control("SP-FO-001", title="Compute service up", statement="It must be monitored.")
@pytest.mark.readonly
@pytest.mark.failover
def test_other_module_scope(cloud):
    assert cloud.compute.get_endpoint()

@pytest.mark.control("SP-FO-003", title="Heartbeat settings", statement="report_interval < service_down_time.")
@pytest.mark.readonly
@pytest.mark.failover
def test_skipped():
    pytest.skip("the target describes no host role 'compute-vmware'")

@pytest.fixture
def broken():
    raise RuntimeError("the fixture could not reach the cloud")

@pytest.mark.control("SP-FO-005", title="No duplicate compute nodes", statement="No cluster is fronted twice.")
@pytest.mark.readonly
@pytest.mark.failover
def test_error(broken):
    pass

@pytest.mark.control("SP-FO-006", title="vCenter-loss signature", statement="Nova flags a lost vCenter.")
@pytest.mark.readonly
@pytest.mark.failover
def test_measured(record_property):
    record_property("measure.detection_seconds", 41.0)
    record_property("measure.detection_bound_seconds", 70)
    record_property("measure.recovery_seconds", 95.5)
    record_property("measure.recovery_bound_seconds", 70)
    record_property("measure.resource_update_interval_seconds", 60)
"""

#: What each case of CHECKS ends as (control ID and variant -> outcome).
OUTCOMES = {
    "SP-AGG-002": "passed", "SP-AGG-011": "failed", "SP-AGG-005[kvm]": "passed", "SP-AGG-005[vmware]": "failed",
    "SP-FO-001": "passed", "SP-FO-003": "skipped", "SP-FO-005": "error", "SP-FO-006": "passed",
}


def run_checks(project, *args):
    """Run CHECKS under xdist; return the result and the run's report directory."""
    project.check("placement/test_checks.py", CHECKS)
    result = project.run("-n", "2", "--dist", "loadscope", "-o", "log_level=INFO", *args)
    return result, project.run_dirs()[-1]


def outcomes(entries: list[dict]) -> dict[str, str]:
    """Control ID and variant -> outcome, from evidence.json's controls."""
    return {Case.from_dict(entry).case_id: entry["outcome"] for entry in entries}
