"""``tox -e tempest``: OpenStack's own tempest smoke set against the lab.

Brings the lab up (``python -m stackproof_lab up``, as the lab tests do), writes ``tempest.conf`` for it
into the working directory it is given (the tox env's, never the repository) from the lab's target and
clouds.yaml and from the cloud itself (tempest_conf.py: each flag that makes tempest skip something says
why), runs ``tempest run --smoke`` there (other ``tempest run`` arguments replace ``--smoke``), prints the
skip flags and the time of each part, and takes the lab down again (``STACKPROOF_LAB_KEEP=1`` leaves it up).
Exit status: tempest's, or the lab's when up or down fails.

    python tests/tempest/run_tempest.py WORKDIR [TEMPEST RUN ARGS...]
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import tempest_conf

from stackproof import connections
from stackproof.errors import StackproofError
from stackproof.target import load, locate

REPO = Path(__file__).resolve().parents[2]
UP_TIMEOUT = 900  # a cold first up installs packages (measured ~6 min); bounded all the same
DOWN_TIMEOUT = 120
RUN_TIMEOUT = 2400  # tempest's smoke set; measured in the README's figures


def say(line: str) -> None:
    print(f"tempest-lab: {line}", flush=True)


def lab(action: str, timeout: float) -> int:
    try:
        return subprocess.run([sys.executable, "-m", "stackproof_lab", action], cwd=REPO, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        say(f"gave up after {timeout:.0f}s waiting for the lab to {action}")
        return 1


def active_faults() -> list[str] | None:
    """The lab's active faults (None: the lab could not say): a run left one (an interrupted proof) or an
    operator did; tempest on a faulted lab fails for the fault's sake, so it is refused instead."""
    try:
        listing = subprocess.run([sys.executable, "-m", "stackproof_lab", "fault", "list", "--json"], cwd=REPO,
                                 capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        say("gave up after 60s waiting for the lab to list its faults")
        return None
    if listing.returncode != 0:
        say(f"the lab could not list its faults: {(listing.stderr or listing.stdout).strip()[-300:]}")
        return None
    return sorted(fault["name"] for fault in json.loads(listing.stdout) if fault["active"])


def print_service_errors(since: str) -> None:
    """The ERROR records the lab's services logged during the run: the page of a failed CI run says why
    a resource went to ERROR although the lab and its logs are gone by then."""
    say(f"ERROR records of the lab's services since {since} (the last 12 of each service):")
    try:
        subprocess.run([sys.executable, "-m", "stackproof_lab", "logs", "--errors-since", since, "-n", "12"],
                       cwd=REPO, timeout=120)
    except subprocess.TimeoutExpired:
        say("gave up after 120s reading the lab's service logs")


def write_conf(workdir: Path) -> tuple[Path, list[str]]:
    """tempest.conf for the lab's target; returns its path and the skip flags with their reasons."""
    target = load(locate(None, REPO)[0])
    region = connections.region_of(target, target.clouds.cloud)
    conn = connections.connect(target, target.clouds.cloud)
    facts = tempest_conf.read_cloud(conn, region.config["auth"], region.region_name)
    found = tempest_conf.options(facts, workdir) + tempest_conf.LAB_LIMITS
    conf = workdir / "etc" / "tempest.conf"
    for folder in ("etc", "logs", "locks"):  # tempest opens its log file in logs/ without making it
        (workdir / folder).mkdir(parents=True, exist_ok=True)
    conf.touch(mode=0o600)  # it holds the admin password
    conf.write_text(tempest_conf.render(found))
    return conf, tempest_conf.skips(found)


def run_tempest(workdir: Path, conf: Path, args: list[str]) -> int:
    argv = ["tempest", "run", "--config-file", str(conf), *(args or ["--smoke"])]
    say(" ".join(argv))
    try:
        return subprocess.run(argv, cwd=workdir, timeout=RUN_TIMEOUT).returncode
    except subprocess.TimeoutExpired:
        say(f"gave up after {RUN_TIMEOUT}s waiting for tempest run to finish")
        return 1


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    workdir, args = Path(argv[0]).resolve(), argv[1:]
    times: list[str] = []
    began = time.monotonic()
    status = lab("up", UP_TIMEOUT)
    times.append(f"lab up {time.monotonic() - began:.0f} s")
    faulted = active_faults() if status == 0 else []
    if faulted:
        say(f"the lab has active faults ({', '.join(faulted)}); clear each with "
            "`python -m stackproof_lab fault clear NAME` before running tempest against it")
    if faulted is None or faulted:
        status = 1
    if status == 0:
        try:
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
            conf, skipped = write_conf(workdir)
        except (StackproofError, LookupError) as exc:
            say(f"cannot write tempest.conf: {exc}")
            status = 1
        else:
            say(f"wrote {conf}; skip flags, each with the reason the lab cannot honour it:")
            for line in skipped:
                say(f"  {line}")
            began, since = time.monotonic(), datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            status = run_tempest(workdir, conf, args)
            if status:
                print_service_errors(since)
            times.append(f"tempest run {time.monotonic() - began:.0f} s (exit {status})")
    if os.environ.get("STACKPROOF_LAB_KEEP") != "1":
        began = time.monotonic()
        down = lab("down", DOWN_TIMEOUT)
        times.append(f"lab down {time.monotonic() - began:.0f} s")
        status = status or down
    say("; ".join(times))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
