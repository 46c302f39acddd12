"""`stackproof`: run checks by tier and area, list controls, clean up after a dead run, drive the lab."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from stackproof import exitcodes, reports, secrets, shards
from stackproof.controls import AREAS, Control, collect_controls, table
from stackproof.errors import EXIT_BAD_INPUT, StackproofError
from stackproof.report import compare, evidence, junit, merge, model

# The checkout this package runs from (the tox envs install it editable), where suites/ and .lab/ live.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKERS = 4
TIER_EXPRESSIONS = {
    "smoke": "readonly",
    "readonly": "readonly",
    "full": "readonly or workload",
    "workload": "workload",
    "disruptive": "disruptive",
    "all": "readonly or workload or disruptive",
}


def _pytest_args(args: argparse.Namespace) -> list[str]:
    suites = Path(args.suites) if args.suites else PROJECT_ROOT / "suites"
    paths = [str(suites / area) for area in args.area] if args.area else [str(suites)]
    marker = f"({TIER_EXPRESSIONS[args.tier]})"
    if args.area:
        marker += " and (" + " or ".join(args.area) + ")"
    out = [*paths, "-m", marker, "--rootdir", str(suites.parent)]
    if args.workers > 0:
        out += ["-n", str(args.workers), "--dist", "loadscope"]
    if args.target:
        out += ["--target", args.target]
    if args.allow_disruptive:
        out += ["--allow-disruptive", args.allow_disruptive]
    if args.run_id:
        out += ["--run-id", args.run_id]
    return out + list(args.pytest_args)


def cmd_run(args: argparse.Namespace) -> int:
    import pytest

    opted_in = args.allow_disruptive or any(a.startswith("--allow-disruptive") for a in args.pytest_args)
    if args.tier == "disruptive" and not opted_in:
        print("stackproof: the disruptive tier needs --allow-disruptive=<target name>; every check would be "
              "skipped otherwise", file=sys.stderr)
        return EXIT_BAD_INPUT
    return _run_phases(args, pytest.main)


# -- one run in two phases --------------------------------------------------------------------------------
PARALLEL, DISRUPTIVE = "parallel", "disruptive"


def _pytest_option(pytest_args: list[str], name: str) -> str | None:
    """The value of `name` among the arguments passed through to pytest (`--name V` or `--name=V`)."""
    value = None
    for index, arg in enumerate(pytest_args):
        if arg == name and index + 1 < len(pytest_args):
            value = pytest_args[index + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


def _phases(args: argparse.Namespace) -> list[tuple[str, argparse.Namespace]]:
    """The phases of a run: the readonly and workload checks in parallel (xdist), then the disruptive ones
    in one process, never beside another check. Each phase is one pytest session of the same run."""
    phases = []
    parallel_tier = {"all": "full", "disruptive": None}.get(args.tier, args.tier)
    if parallel_tier:
        phases.append((PARALLEL, argparse.Namespace(**vars(args) | {"tier": parallel_tier})))
    in_this_shard = args.shard is None or shards.parse(args.shard)[0] == shards.DISRUPTIVE_SHARD
    if args.tier in ("all", "disruptive") and in_this_shard:
        phases.append((DISRUPTIVE, argparse.Namespace(**vars(args) | {"tier": "disruptive", "workers": 0})))
    return phases


def _phase_args(args: argparse.Namespace, phase: argparse.Namespace, name: str | None) -> list[str]:
    extra = ["--tier-label", args.tier, "--run-id", phase.run_id]
    for option, value in (("--shard", args.shard), ("--waivers", args.waivers), ("--reports-dir", args.reports_dir),
                          ("--fault-catalogue", args.fault_catalogue), ("--phase", name)):
        if value:
            extra += [option, value]
    return _pytest_args(phase) + extra


def _run_phases(args: argparse.Namespace, run_pytest) -> int:
    args.run_id = args.run_id or _pytest_option(args.pytest_args, "--run-id") or reports.new_run_id()
    args.reports_dir = args.reports_dir or _pytest_option(args.pytest_args, "--reports-dir")
    phases = _phases(args)
    if not phases:
        print(f"stackproof: shard {args.shard} holds no {args.tier} check (disruptive checks all run in shard 1)",
              file=sys.stderr)
        return exitcodes.NOTHING_EVALUATED
    if len(phases) == 1:
        return int(run_pytest(_phase_args(args, phases[0][1], None)))
    run_dir = Path(args.reports_dir or _suites(args).parent / "reports") / args.run_id
    codes: dict[str, int] = {}
    for name, phase in phases:
        print(f"stackproof: run {args.run_id}, phase {name}", flush=True)
        codes[name] = int(run_pytest(_phase_args(args, phase, name)))
        if codes[name] in (exitcodes.INTERRUPTED, exitcodes.INTERNAL, exitcodes.BAD_INPUT):
            break  # an interrupted or broken run does not go on to disrupt the cloud
    parts = [(name, model.load(run_dir / "phases" / name)) for name in codes
             if (run_dir / "phases" / name / model.EVIDENCE).is_file()]
    if not parts:
        return max(codes.values())
    merged = merge.merge(parts, run_id=args.run_id)
    for name, code in codes.items():
        if name not in dict(parts):  # stopped before it wrote reports (bad input, say): its code counts
            merged.phases.append({"run_id": args.run_id, "label": name, "exit_status": code})
            merged.notes.append(f"phase {name} ended with exit code {code} before writing its reports")
    merged.exit_status = merged.exit_code()
    write_outputs(merged, run_dir)
    print(f"stackproof: run {merged.run_id}: {len(parts)} phase(s) merged into {run_dir}; "
          f"exit code {merged.exit_code()}: {exitcodes.MEANING[merged.exit_code()]}")
    return merged.exit_code()


def _suites(args: argparse.Namespace) -> Path:
    return Path(args.suites) if args.suites else PROJECT_ROOT / "suites"


# -- reports of merged runs, and comparison ---------------------------------------------------------------
def render_html(evidence_file: Path, html_path: Path) -> None:
    """Draw the HTML report of a finished run from its evidence, through pytest-html and the same hooks as a
    live run (stackproof/plugin/replay.py)."""
    import pytest

    with tempfile.TemporaryDirectory(prefix="stackproof-html-") as empty:
        ini = Path(empty) / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        pytest.main(["-c", str(ini), "--rootdir", empty, "-p", "stackproof.plugin.replay", "-p", "no:cacheprovider",
                     "-p", "no:terminal", "--replay-evidence", str(evidence_file), "--html", str(html_path),
                     "--self-contained-html", empty])
    if not html_path.is_file():
        raise StackproofError(f"the HTML report {html_path} could not be drawn")


def write_outputs(report: model.RunReport, directory: Path) -> None:
    """junit.xml, report.html and evidence.json of a merged run into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    junit.write(report, directory)
    with tempfile.TemporaryDirectory(prefix="stackproof-merge-") as scratch:
        draft = Path(scratch) / model.EVIDENCE  # what the page is drawn from; the evidence hashes the page
        draft.write_text(model.to_json(report), encoding="utf-8")
        render_html(draft, directory / "report.html")
    evidence.write(report, directory)


def cmd_merge(args: argparse.Namespace) -> int:
    merged = merge.merge(merge.load_parts(args.dirs), run_id=args.run_id)
    root = Path(args.reports_dir or PROJECT_ROOT / "reports")
    directory = Path(args.output) if args.output else reports.prepare(root, merged.run_id)
    write_outputs(merged, directory)
    print(f"stackproof: merged {len(args.dirs)} run(s) into run {merged.run_id} in {directory}")
    code = merged.exit_code()
    print(f"exit code {code}: {exitcodes.MEANING[code]}")
    return code


def cmd_compare(args: argparse.Namespace) -> int:
    result = compare.compare(model.load(args.run_a), model.load(args.run_b), threshold=args.threshold / 100,
                             min_seconds=args.min_seconds)
    print("\n".join(compare.render(result, args.threshold / 100)))
    return result.exit_code()


class _ControlCollector:
    def __init__(self) -> None:
        self.controls: list[Control] = []

    def pytest_collection_finish(self, session) -> None:
        checks = [item for item in session.items if (session.config.rootpath / "suites") in item.path.parents]
        self.controls = list(collect_controls(checks).values())


def cmd_controls(args: argparse.Namespace) -> int:
    import pytest

    collector = _ControlCollector()
    suites = Path(args.suites) if args.suites else PROJECT_ROOT / "suites"
    paths = [str(suites / a) for a in args.area] or [str(suites)]
    code = pytest.main([*paths, "--collect-only", "--rootdir", str(suites.parent), "-p", "no:terminal"],
                       plugins=[collector])
    if code not in (0, 5):
        print("stackproof: collecting the controls failed (run `pytest --collect-only suites` to see why)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    unique = sorted({c.id: c for c in collector.controls}.values(), key=lambda c: c.id)
    if args.json:
        fields = ("id", "tier", "area", "title", "statement")
        print(json.dumps([{k: getattr(c, k) for k in fields} for c in unique], indent=2))
    else:
        print(table(unique))
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    from stackproof import connections, target
    from stackproof.ledger import Entry, Ledger, find_by_prefix, run_prefix

    path, _lab = target.locate(args.target, PROJECT_ROOT)
    tgt = target.load(path)
    prefix = run_prefix(args.run_id)
    run_dir = Path(args.reports_dir or PROJECT_ROOT / "reports") / args.run_id
    recorded = Ledger.read(sorted(run_dir.glob("ledger-*.jsonl"))) if run_dir.is_dir() else []
    pool: dict[str, object] = {}

    def connect(entry: str):
        if entry not in pool:
            pool[entry] = connections.connect(tgt, entry)
        return pool[entry]

    admin = tgt.clouds.cloud
    found, unlisted = find_by_prefix(connect(admin), prefix)
    todo: dict[tuple[str, str], Entry] = {}
    for entry in recorded:
        # Only ever names of this run's own: a ledger file edited by hand cannot widen the blast radius.
        if entry.state != "deleted" and entry.name.startswith(prefix):
            todo[(entry.kind, entry.name)] = entry
    for item in found:
        todo.setdefault((item.kind, item.name), Entry(item.kind, item.name, admin, None, item.id, "created"))
    for note in unlisted:
        print(f"stackproof: could not list {note}", file=sys.stderr)
    if not todo:
        print(f"stackproof: nothing of run {args.run_id} found")
        return 0
    for entry in todo.values():
        print(f"{'would delete' if args.dry_run else 'deleting'} {entry.kind} {entry.name} ({entry.id or '?'})")
    if args.dry_run:
        return 0
    run_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(run_dir / "ledger-cleanup.jsonl", args.run_id, connect, tgt.timeouts, log=print)
    errors = ledger.cleanup(todo.values())
    for error in errors:
        print(f"stackproof: {error}", file=sys.stderr)
    return 1 if errors else 0


def cmd_validate(args: argparse.Namespace) -> int:
    from stackproof import target

    path, _lab = target.locate(args.target, PROJECT_ROOT)
    loaded = target.load(path)
    print(f"{path}: valid target {loaded.name!r}")
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    # The lab is a separate program, never imported by the engine: hand over the process.
    env = dict(os.environ)
    env.setdefault("STACKPROOF_LAB_DIR", str(PROJECT_ROOT / ".lab"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    os.execvpe(sys.executable, [sys.executable, "-m", "stackproof_lab", *args.lab_args], env)
    return 0  # not reached


def _add_report_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--shard", default=None, metavar="K/N",
                     help="run shard K of N of the controls (disruptive ones all in shard 1); see merge")
    run.add_argument("--waivers", default=None, metavar="FILE",
                     help="waivers file (control, justification, expiry date, optional scope)")
    run.add_argument("--reports-dir", default=None, help="where run directories go (default: reports/)")
    run.add_argument("--fault-catalogue", default=None, metavar="FILE",
                     help="the lab's fault catalogue (JSON) for the report's detection matrix")


def _add_report_commands(sub) -> None:
    merging = sub.add_parser(
        "merge", help="merge report directories (shards, phases) into one run's JUnit, HTML and evidence",
        epilog="example: stackproof merge reports/run-a reports/run-b --output reports/nightly")
    merging.add_argument("dirs", nargs="+", metavar="DIR", help="report directories or evidence.json files")
    merging.add_argument("--output", default=None, help="directory to write (default: reports/<merged run id>)")
    merging.add_argument("--run-id", default=None, help="the merged run's ID (default: new, or the parts' own)")
    merging.add_argument("--reports-dir", default=None, help="where run directories go (default: reports/)")
    merging.set_defaults(func=cmd_merge)

    comparing = sub.add_parser(
        "compare", help="compare two runs: newly red, fixed, still red, slower, new and removed controls",
        epilog="example: stackproof compare reports/20250101120000ab12 reports/latest  (exit 1 on a regression)")
    comparing.add_argument("run_a", metavar="RUN_A", help="the earlier run: report directory or evidence.json")
    comparing.add_argument("run_b", metavar="RUN_B", help="the later run")
    comparing.add_argument("--threshold", type=float, default=compare.THRESHOLD * 100, metavar="PERCENT",
                           help="slower means more than this much slower (default %(default)g%%)")
    comparing.add_argument("--min-seconds", type=float, default=compare.MIN_SECONDS,
                           help="... and at least this many seconds slower (default %(default)g)")
    comparing.set_defaults(func=cmd_compare)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="stackproof", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run checks of a tier (and areas) with reports in reports/<run id>/")
    run.add_argument("--tier", choices=sorted(TIER_EXPRESSIONS), default="smoke")
    run.add_argument("--area", action="append", choices=AREAS, default=[])
    run.add_argument("--target", default=None)
    run.add_argument("-n", "--workers", type=int, default=DEFAULT_WORKERS, help="xdist workers (0: no xdist)")
    run.add_argument("--allow-disruptive", default=None, metavar="TARGET_NAME")
    run.add_argument("--run-id", default=None)
    run.add_argument("--suites", default=None, help="the suites directory (default: this checkout's)")
    _add_report_arguments(run)
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: passed to pytest")
    run.set_defaults(func=cmd_run)
    _add_report_commands(sub)

    controls = sub.add_parser("controls", help="list the controls (ID, tier, area, title)")
    controls.add_argument("--json", action="store_true")
    controls.add_argument("--area", action="append", choices=AREAS, default=[])
    controls.add_argument("--suites", default=None, help="the suites directory (default: this checkout's)")
    controls.set_defaults(func=cmd_controls)

    cleanup = sub.add_parser("cleanup", help="delete what a dead run left (only names with its prefix)")
    cleanup.add_argument("--run-id", required=True)
    cleanup.add_argument("--dry-run", action="store_true")
    cleanup.add_argument("--target", default=None)
    cleanup.add_argument("--reports-dir", default=None)
    cleanup.set_defaults(func=cmd_cleanup)

    validate = sub.add_parser("validate", help="validate a target description")
    validate.add_argument("--target", default=None)
    validate.set_defaults(func=cmd_validate)

    lab = sub.add_parser("lab", help="the embedded lab: up | down | status | logs | fault")
    lab.add_argument("lab_args", nargs=argparse.REMAINDER)
    lab.set_defaults(func=cmd_lab)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "pytest_args", None) and args.pytest_args[0] == "--":
        args.pytest_args = args.pytest_args[1:]
    secrets.install_log_redaction()
    try:
        return args.func(args)
    except StackproofError as exc:
        print(f"stackproof: {secrets.redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("stackproof: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
