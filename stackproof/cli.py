"""`stackproof`: run checks by tier and area, list controls, clean up after a dead run, drive the lab."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from stackproof import secrets
from stackproof.controls import AREAS, Control, collect_controls, table
from stackproof.errors import EXIT_BAD_INPUT, StackproofError

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
    return int(pytest.main(_pytest_args(args)))


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
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: passed to pytest")
    run.set_defaults(func=cmd_run)

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
