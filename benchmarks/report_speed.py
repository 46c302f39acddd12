"""How fast the reports are: the end of a full run (model, report.html, junit.xml, evidence.json), and
`stackproof merge` / `stackproof compare` of 10 full runs. Prints figures; the targets (issue 16) are 2 s
and 5 s.

    .tox/py/bin/python benchmarks/report_speed.py [--controls 60] [--requests 30]

A "full run" here is a suite of --controls controls (a third of them with two variants), each check making
--requests API requests against the engine tests' fake cloud, under xdist with two workers; a few fail,
skip or record failover measures, as a real run does. The 10 runs for merge and compare are copies of that
run's evidence with other outcomes and durations (for merge: under other node IDs, as shards would be).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from fakecloud import FakeCloud  # noqa: E402

from stackproof.report import evidence, junit, model  # noqa: E402

AREAS = (("placement", "AGG"), ("block_storage", "BLK"), ("failover", "FO"), ("vmdk", "VMDK"), ("nsx", "NSX"),
         ("nested", "NEST"))


def suite(controls: int, requests: int) -> str:
    lines = ["import pytest", "from stackproof.findings import expect", ""]
    for n in range(controls):
        area, code = AREAS[n % len(AREAS)]
        variants = '@pytest.mark.parametrize("side", ["kvm", "vmware"])\n' if n % 3 == 0 else ""
        args = "cloud, record_property" + (", side" if variants else "")
        body = f"    for _ in range({requests}):\n        list(cloud.compute.servers())\n"
        if n % 12 == 5:
            body += (f'    expect(False, "finding {n}", expected="fullyAutomated", found="partiallyAutomated", '
                     f'where="cluster domain-c{n}")\n')
        elif n % 15 == 7:
            body += '    pytest.skip("the target describes no host role \'compute-vmware\'")\n'
        elif code == "FO" and n % 4 == 2:
            body += ('    record_property("measure.detection_seconds", 41.0)\n'
                     '    record_property("measure.detection_bound_seconds", 70)\n')
        lines.append(textwrap.dedent(f"""\
            @pytest.mark.control("SP-{code}-{n:03d}", title="Check number {n}", statement="Statement {n}.")
            @pytest.mark.readonly
            @pytest.mark.{area}
            """) + variants + f"def test_{n}({args}):\n" + body)
    return "\n".join(lines)


def project(directory: Path, cloud: FakeCloud, controls: int, requests: int) -> Path:
    ini = (REPO / "pyproject.toml").read_text()
    (directory / "pyproject.toml").write_text(ini[ini.index("[tool.pytest.ini_options]"):ini.index("[tool.ruff]")])
    (directory / "suites").mkdir()
    (directory / "suites" / "test_full.py").write_text(suite(controls, requests))
    cloud.clouds_yaml(directory / "clouds.yaml")
    target = directory / "stackproof.yaml"
    target.write_text("name: bench\nclouds_yaml: clouds.yaml\nclouds: {cloud: fake}\n"
                      "timeouts: {profile: test, interval: 0.05, default: 5}\n")
    return target


def timed(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    began = time.monotonic()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    return time.monotonic() - began, result


def variants(base: model.RunReport, root: Path, count: int, distinct: bool) -> list[Path]:
    """`count` runs like `base`: other outcomes and durations; with `distinct`, other node IDs too."""
    rng = random.Random(7)
    dirs = []
    for i in range(count):
        data = base.to_dict()
        data["run_id"] = f"{base.run_id}-{i}"
        for case in data["controls"]:
            case["duration"] = round(case["duration"] * rng.uniform(0.5, 2.0), 3)
            if case["outcome"] == "passed" and rng.random() < 0.05:
                case["outcome"], case["found"], case["where"] = "failed", "something else", "somewhere"
            if distinct:
                case["nodeid"] = case["nodeid"].replace("suites/", f"suites/part{i}/")
        run = model.RunReport.from_dict(data)
        directory = root / ("shards" if distinct else "runs") / run.run_id
        directory.mkdir(parents=True)
        junit.write(run, directory)
        evidence.write(run, directory)
        dirs.append(directory)
    return dirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--controls", type=int, default=60)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    cloud = FakeCloud().start()
    try:
        with tempfile.TemporaryDirectory(prefix="stackproof-bench-") as tmp:
            root = Path(tmp)
            target = project(root, cloud, args.controls, args.requests)
            took, run = timed([sys.executable, "-m", "pytest", "suites", "--target", str(target), "-n", "2",
                               "-p", "no:cacheprovider", "-q", "--run-id", "bench"], root)
            written = re.search(r"reports written in ([\d.]+) s", run.stdout)
            if written is None:
                print(run.stdout[-3000:], run.stderr[-2000:])
                return 1
            base = model.load(root / "reports" / "bench")
            calls = sum(len(c.requests) for c in base.cases)
            print(f"full run: {len(base.cases)} cases of {len({c.control_id for c in base.cases})} controls, "
                  f"{calls} API requests, {took:.1f} s in all")
            print(f"  reports written at its end (model, report.html, junit.xml, evidence.json): "
                  f"{float(written.group(1)):.2f} s (target 2 s)")
            stackproof = [sys.executable, "-m", "stackproof.cli"]
            shards = variants(base, root, 10, distinct=True)
            took, merged = timed([*stackproof, "merge", *map(str, shards), "--output", str(root / "merged")], root)
            cases = len(json.loads((root / "merged" / "evidence.json").read_text())["controls"])
            print(f"  stackproof merge of 10 full runs ({cases} cases): {took:.2f} s (target 5 s; exit "
                  f"{merged.returncode})")
            runs = variants(base, root, 10, distinct=False)
            compares = []
            for later in runs[1:]:
                took, _result = timed([*stackproof, "compare", str(runs[0]), str(later)], root)
                compares.append(took)
            print(f"  stackproof compare of two full runs: {max(compares):.2f} s at most, "
                  f"{sum(compares) / len(compares):.2f} s on average; the 9 comparisons of 10 runs: "
                  f"{sum(compares):.2f} s in all (target 5 s)")
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
