"""Cleanup deletes only what the run made, and never reports success it did not check.

Run IDs have one format; a run owns exactly the names ``sp-<run id>-<hint>-<6 hex>`` (parsed, not matched by
prefix); a ledger ID is deleted only while the cloud's object still carries the recorded name; a listing that
fails, a wrong password or an unreachable cloud is an error, never "nothing found".
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
from openstack import exceptions as os_exc

from stackproof import connections, naming, resource_kinds, target
from stackproof.errors import StackproofError
from stackproof.ledger import Entry, Ledger


@pytest.mark.parametrize("run_id", ["20260101120000ab12", "relx", "a" * 32, "deadrun1"])
def test_run_ids_of_the_one_format(run_id: str) -> None:
    assert naming.check_run_id(run_id) == run_id


@pytest.mark.parametrize("run_id", ["../../etc", "relx-k", "RELX", "abc", "a" * 33, "", "run id", "x/y0"])
def test_anything_else_is_no_run_id(run_id: str) -> None:
    with pytest.raises(StackproofError, match="is not valid: 4 to 32 lowercase letters and digits"):
        naming.check_run_id(run_id)


@pytest.mark.parametrize(("name", "owner"), [
    ("sp-relx-net-0a1b2c", "relx"),
    ("sp-relxk-net-0a1b2c", "relxk"),          # not relx's: the run ID ends at its boundary
    ("sp-relx-kvm_srv-0a1b2c", "relx"),
    ("sp-relx-k-net-0a1b2c", None),            # run relx-k's, from before run IDs lost their dashes
    ("sp-vmware-sparse-vmdk", None),           # the lab's base image: no run's name at all
    ("sp-relx-", None),
    ("sp-relx-net-0A1B2C", None),
    ("production-net", None),
    (None, None),
])
def test_a_name_belongs_to_the_run_it_parses_to(name, owner) -> None:
    assert naming.owner_of(name) == owner


def test_new_names_parse_back_to_their_run() -> None:
    for hint in ("net", "BLK-6 read back", "agg9-untagged", "../etc", ""):
        name = naming.new_name("relx", hint)
        assert naming.owner_of(name) == "relx", name


def cleanup(project, run_id: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stackproof.cli", "cleanup", "--run-id", run_id,
         "--target", str(project.path / "stackproof.yaml"), "--reports-dir", str(project.path / "reports"), *args],
        capture_output=True, text=True, timeout=120)


def connection(project):
    return connections.connect(target.load(project.path / "stackproof.yaml"), "fake")


def test_cleanup_takes_exactly_its_runs_names(project) -> None:
    conn = connection(project)
    mine = conn.network.create_network(name="sp-relx-net-aaaaaa")
    conn.block_storage.create_volume(name="sp-relx-vol-bbbbbb", size=1)
    others = {conn.network.create_network(name=name).id: name for name in (
        "sp-relxk-net-cccccc",      # another run whose ID starts with this one's
        "sp-relx-k-net-dddddd",     # a run relx-k's, from before run IDs lost their dashes
        "sp-relx",                  # no run's name
        "sp-vmware-sparse-vmdk",    # the lab's base image pattern
        "production-net",
    )}
    dry = cleanup(project, "relx", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert sorted(line for line in dry.stdout.splitlines() if line.startswith("would delete")) == [
        f"would delete network sp-relx-net-aaaaaa ({mine.id})",
        "would delete volume sp-relx-vol-bbbbbb (" + next(iter(project.fake.store["volumes"])) + ")"]
    assert [p for m, p in project.fake.writes() if m == "DELETE"] == [], "the dry run deleted something"
    real = cleanup(project, "relx")
    assert real.returncode == 0, real.stderr
    assert {i: n["name"] for i, n in project.fake.store["networks"].items()} == others
    assert project.fake.store["volumes"] == {}


def test_cleanup_of_run_vmware_does_not_offer_the_labs_base_image(project) -> None:
    conn = connection(project)
    conn.network.create_network(name="sp-vmware-sparse-vmdk")
    dry = cleanup(project, "vmware", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete" not in dry.stdout and "nothing of run vmware found" in dry.stdout


def test_a_ledger_id_is_deleted_only_while_the_object_carries_the_runs_name(project) -> None:
    conn = connection(project)
    production = conn.block_storage.create_volume(name="production-db", size=1)
    run_dir = project.path / "reports" / "relx"
    run_dir.mkdir(parents=True)
    # A hand-edited (or stale) line: the run's name, someone else's ID.
    (run_dir / "ledger-main.jsonl").write_text(json.dumps({
        "kind": "volume", "name": "sp-relx-vol-aaaaaa", "cloud": "fake", "check": None, "id": production.id,
        "state": "created"}) + "\n" + json.dumps({
        "kind": "volume", "name": "production-db", "cloud": "fake", "check": None, "id": production.id,
        "state": "created"}) + "\n")
    for args in (["--dry-run"], []):
        result = cleanup(project, "relx", *args)
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"volume {production.id} is named 'production-db' in the cloud, not 'sp-relx-vol-aaaaaa'" \
            in result.stderr
        assert "ledger line volume 'production-db'" in result.stderr and "is no name of run relx" in result.stderr
        assert "Traceback" not in result.stderr
    assert production.id in project.fake.store["volumes"]
    assert [p for m, p in project.fake.writes() if m == "DELETE"] == []


def test_the_ledger_refuses_an_id_whose_object_was_renamed(project, tmp_path) -> None:
    conn = connection(project)
    ledger = Ledger(tmp_path / "ledger.jsonl", "relx", lambda _cloud: conn, target.load(
        project.path / "stackproof.yaml").timeouts)
    network = ledger.create("network", "fake", None, conn, hint="net")
    project.fake.store["networks"][network.id]["name"] = "renamed-by-someone"
    errors = ledger.cleanup()
    assert len(errors) == 1 and "is named 'renamed-by-someone' in the cloud" in errors[0], errors
    assert network.id in project.fake.store["networks"]


def test_a_listing_that_fails_is_an_error_naming_what_was_not_checked(project) -> None:
    conn = connection(project)
    conn.block_storage.create_volume(name="sp-relx-vol-aaaaaa", size=1)
    project.fake.failing_listings.add("volumes")
    result = cleanup(project, "relx", "--dry-run")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "could not list volume (" in result.stderr and "what run relx left of it was not checked" in result.stderr
    assert "nothing of run relx found" not in result.stdout


def test_a_wrong_password_is_one_line_and_exit_4_not_nothing_found(project) -> None:
    project.fake.clouds_yaml(project.path / "clouds.yaml", password="wrong-password-123")
    result = cleanup(project, "relx")
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"stackproof: cloud 'fake': Keystone at {project.fake.url}/identity/v3 refused the credentials (401): "
        "check user, password, project"]


def test_ledger_entries_replay_without_widening(tmp_path) -> None:
    """Entry state replays from the files; the ledger itself never records a name that is not the run's."""
    ledger = Ledger(tmp_path / "ledger.jsonl", "relx", lambda _cloud: None, None)
    with pytest.raises(ValueError, match="is not a name of run relx"):
        ledger.intend("network", "sp-relxk-net-aaaaaa", "fake", None)
    entry = ledger.intend("network", ledger.new_name("net"), "fake", None)
    assert Ledger.read([tmp_path / "ledger.jsonl"]) == [Entry("network", entry.name, "fake", None)]


def test_a_router_interface_removed_meanwhile_is_gone_not_an_error() -> None:
    """A dead run's own cleanup may still be taking its router apart while `stackproof cleanup` lists it: an
    interface that is gone by the time it is removed is done, and the router still goes."""
    deleted = []

    class Network:
        def get_router(self, router_id):
            return SimpleNamespace(id=router_id, external_gateway_info=None)

        def ports(self, device_id):
            return [SimpleNamespace(id="p1", device_owner="network:router_interface")]

        def remove_interface_from_router(self, router, port_id):
            raise os_exc.NotFoundException(f"Router {router.id} does not have an interface with id {port_id}")

        def delete_router(self, router_id, ignore_missing):
            deleted.append(router_id)

    resource_kinds._delete_router(SimpleNamespace(network=Network()), "r1")
    assert deleted == ["r1"]
