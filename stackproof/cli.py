"""stackproof: prove that a deployed OpenStack cloud does what its architecture promises.

Run checks by tier and area, list the controls, validate a target, clean up after a dead run, drive the lab.
Exit codes: 0 all good; 1 a check failed (or cleanup left something); 4 bad input (target, clouds.yaml,
credentials, an unreachable endpoint); 5 no check selected; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from stackproof import secrets
from stackproof.controls import AREAS, Control, collect_controls, table
from stackproof.errors import EXIT_BAD_INPUT, StackproofError

# The checkout this package runs from (the tox envs install it editable), where suites/ and .lab/ live.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKERS = 4
EXIT_NOTHING_SELECTED = 5  # pytest's "no tests collected"
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Tier:
    """What `--tier NAME` selects (a marker expression) and the ceiling it puts on the whole run."""

    expression: str
    ceiling: str
    help: str


TIERS = {
    "smoke": Tier("readonly", "readonly", "readonly checks (the default): safe on production"),
    "readonly": Tier("readonly", "readonly", "the same as smoke"),
    "full": Tier("readonly or workload", "workload", "readonly and workload checks (create and delete resources)"),
    "workload": Tier("workload", "workload", "workload checks only"),
    "disruptive": Tier("disruptive", "disruptive", "disruptive checks only (needs --allow-disruptive)"),
    "all": Tier("readonly or workload or disruptive", "disruptive", "every check (disruptive ones last)"),
}


def _split_markexpr(pytest_args: list[str]) -> tuple[list[str], list[str]]:
    """The user's `-m EXPR` arguments (combined with the tier's, never replacing it), and the other arguments."""
    expressions: list[str] = []
    rest: list[str] = []
    args = iter(pytest_args)
    for arg in args:
        if arg == "-m":
            expressions.append(next(args, ""))
        elif arg.startswith("-m") and not arg.startswith("--"):
            expressions.append(arg[2:])
        else:
            rest.append(arg)
    return [e for e in expressions if e.strip()], rest


def _marker_expression(args: argparse.Namespace, user: list[str]) -> str:
    parts = [TIERS[args.tier].expression]
    if args.area:
        parts.append(" or ".join(args.area))
    parts += user
    return " and ".join(f"({part})" for part in parts)


def _pytest_args(args: argparse.Namespace) -> list[str]:
    suites = Path(args.suites) if args.suites else PROJECT_ROOT / "suites"
    paths = [str(suites / area) for area in args.area] if args.area else [str(suites)]
    user_marks, rest = _split_markexpr(list(args.pytest_args))
    out = [*paths, "-m", _marker_expression(args, user_marks), "--max-tier", TIERS[args.tier].ceiling,
           "--rootdir", str(suites.parent)]
    if args.workers > 0:
        out += ["-n", str(args.workers), "--dist", "loadscope"]
    if args.target:
        out += ["--target", args.target]
    if args.allow_disruptive:
        out += ["--allow-disruptive", args.allow_disruptive]
    if args.run_id:
        out += ["--run-id", args.run_id]
    return out + rest


def cmd_run(args: argparse.Namespace) -> int:
    import pytest

    from stackproof.naming import check_run_id

    if args.run_id:
        check_run_id(args.run_id)
    opted_in = args.allow_disruptive or any(a.startswith("--allow-disruptive") for a in args.pytest_args)
    if args.tier == "disruptive" and not opted_in:
        print("stackproof: the disruptive tier needs --allow-disruptive=<target name>; every check would be "
              "skipped otherwise", file=sys.stderr)
        return EXIT_BAD_INPUT
    pytest_args = _pytest_args(args)
    code = int(pytest.main(pytest_args))
    if code == EXIT_NOTHING_SELECTED:
        expression = pytest_args[pytest_args.index("-m") + 1]
        print(f"stackproof: no check selected: tier {args.tier} and the markers {expression!r} leave nothing to "
              "run", file=sys.stderr)
    return code


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
    if code not in (0, EXIT_NOTHING_SELECTED):
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
    from stackproof import cleanup, target
    from stackproof.naming import check_run_id

    run_id = check_run_id(args.run_id)
    path, _lab = target.locate(args.target, PROJECT_ROOT)
    run_dir = Path(args.reports_dir or PROJECT_ROOT / "reports") / run_id
    return cleanup.clean(target.load(path), run_id, run_dir, dry_run=args.dry_run, say=print,
                         warn=lambda line: print(f"stackproof: {line}", file=sys.stderr))


def cmd_validate(args: argparse.Namespace) -> int:
    from stackproof import target, validation

    path, _lab = target.locate(args.target, PROJECT_ROOT)
    report = validation.validate(path, connect=args.connect)
    for problem in report.problems:
        print(f"stackproof: {secrets.redact(problem)}", file=sys.stderr)
    if report.problems:
        return EXIT_BAD_INPUT
    print(f"{path}: valid target {report.target.name!r}: {'; '.join(report.checked)}")
    return 0


def cmd_schema(_args: argparse.Namespace) -> int:
    from stackproof.target import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


LAB_DESCRIPTION = """\
stackproof lab: the embedded lab, a small real OpenStack on this machine (run as root) with a KVM and a
VMware aggregate, whose own target description stackproof uses when no other target is named. It runs
`python -m stackproof_lab` from this checkout.

commands:
  up                      install, start and provision the lab (idempotent; ~5 min the first time)
  down                    stop every process the lab started
  status [--json]         services with pid, port, health and memory; active faults
  logs [SERVICE]          tail a service's log (no SERVICE: list the logs)
  fault inject|clear NAME inject or clear a lab fault; `fault list` lists them

`stackproof lab COMMAND --help` shows the lab's own help for one command."""


def cmd_lab(args: argparse.Namespace) -> int:
    if not args.lab_args or args.lab_args[0] == "help":
        args.print_lab_help()
        return 0
    # The lab is a separate program, never imported by the engine: hand over the process.
    env = dict(os.environ)
    env.setdefault("STACKPROOF_LAB_DIR", str(PROJECT_ROOT / ".lab"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    os.execvpe(sys.executable, [sys.executable, "-m", "stackproof_lab", *args.lab_args], env)
    return 0  # not reached


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Wraps prose paragraphs to the terminal; keeps paragraphs with indented lines (tables, examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            if "\n " in paragraph or paragraph.startswith(" "):
                paragraphs.append(textwrap.indent(paragraph, indent))
            else:
                paragraphs.append(textwrap.fill(" ".join(paragraph.split()), width, initial_indent=indent,
                                                subsequent_indent=indent))
        return "\n\n".join(paragraphs)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _version() -> str:
    try:
        return metadata.version("stackproof")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    raw = _Formatter
    top = argparse.ArgumentParser(prog="stackproof", description=__doc__, formatter_class=raw,
                                  epilog=_examples("stackproof run", "stackproof run --tier full --area placement",
                                                   "stackproof validate --target prod-east.yaml --connect",
                                                   "stackproof cleanup --run-id 20260101120000ab12 --dry-run"))
    top.add_argument("--version", action="version", version=f"stackproof {_version()}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND",
                             help="`stackproof COMMAND --help` shows each command's options and examples")

    tiers = "\n".join(f"  {name:<11} {tier.help}" for name, tier in TIERS.items())
    run = sub.add_parser(
        "run", help="run checks of a tier (and areas); reports in reports/<run id>/", formatter_class=raw,
        description="Run the checks of a tier against the target, with JUnit, HTML and evidence.json in "
                    "reports/<run id>/.\n\ntiers:\n" + tiers + "\n\nThe tier is also the run's ceiling: a smoke "
                    "run sends nothing but GET/HEAD and runs nothing but reading host commands, whatever -m "
                    "selects. A -m after -- narrows the tier's selection; it never widens it. Plain `pytest "
                    "suites` has no ceiling unless given --max-tier.",
        epilog=_examples("stackproof run                                   # smoke, against the lab",
                         "stackproof run --tier full --area block_storage --target prod-east.yaml",
                         "stackproof run --tier disruptive --allow-disruptive prod-east --target prod-east.yaml",
                         "stackproof run -- -k AGG -x                      # pytest arguments after --"))
    run.add_argument("--tier", choices=list(TIERS), default="smoke", help="which checks, and the run's ceiling "
                     "(default: smoke)")
    run.add_argument("--area", action="append", choices=AREAS, default=[],
                     help="only this area (repeatable; default: every area)")
    run.add_argument("--target", default=None, help="the target description (stackproof.yaml); default: "
                     "$STACKPROOF_TARGET, then the lab's")
    run.add_argument("-n", "--workers", type=int, default=DEFAULT_WORKERS,
                     help=f"parallel pytest-xdist workers (0: none; default: {DEFAULT_WORKERS})")
    run.add_argument("--allow-disruptive", default=None, metavar="TARGET_NAME",
                     help="let disruptive checks run; must repeat the target's name")
    run.add_argument("--run-id", default=None, help="reuse this run ID (4-32 lowercase letters and digits; "
                     "default: a new one)")
    run.add_argument("--suites", default=None, help="the suites directory (default: this checkout's)")
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="-- PYTEST_ARGS",
                     help="after --: passed to pytest (-k, -x, -n, -m to narrow, ...)")
    run.set_defaults(func=cmd_run)

    controls = sub.add_parser("controls", help="list the controls (ID, tier, area, title)",
                              formatter_class=raw, description="List the controls the suites verify.",
                              epilog=_examples("stackproof controls", "stackproof controls --json --area failover"))
    controls.add_argument("--json", action="store_true", help="JSON with each control's statement")
    controls.add_argument("--area", action="append", choices=AREAS, default=[],
                          help="only this area (repeatable)")
    controls.add_argument("--suites", default=None, help="the suites directory (default: this checkout's)")
    controls.set_defaults(func=cmd_controls)

    cleanup = sub.add_parser(
        "cleanup", help="delete what a dead run left (only that run's own resources)", formatter_class=raw,
        description="Delete what run RUN_ID left in the cloud: the resources its ledger records and those the "
                    "cloud lists under the run's names (sp-<run id>-<hint>-<6 hex>, matched exactly). A ledger "
                    "ID is deleted only while the cloud's object still carries the recorded name. A listing that "
                    "fails is an error (exit 1, naming what could not be checked); a wrong password or an "
                    "unreachable cloud is one line, exit 4.",
        epilog=_examples("stackproof cleanup --run-id 20260101120000ab12 --dry-run",
                         "stackproof cleanup --run-id 20260101120000ab12 --target prod-east.yaml"))
    cleanup.add_argument("--run-id", required=True, help="the dead run's ID (reports/<run id>/)")
    cleanup.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    cleanup.add_argument("--target", default=None, help="the target the run ran against (default: "
                         "$STACKPROOF_TARGET, then the lab's)")
    cleanup.add_argument("--reports-dir", default=None, help="where run directories are (default: reports/)")
    cleanup.set_defaults(func=cmd_cleanup)

    validate = sub.add_parser(
        "validate", help="validate a target description (offline; --connect to reach its endpoints)",
        formatter_class=raw,
        description="Validate a target description: the schema, the files it names, every clouds.yaml entry "
                    "it uses and every secret it refers to, offline. Every problem is one line; exit 4 if any. "
                    "--connect also authenticates to each cloud, logs in to each vCenter and runs `true` on "
                    "each host.",
        epilog=_examples("stackproof validate --target prod-east.yaml",
                         "stackproof validate --target prod-east.yaml --connect"))
    validate.add_argument("--target", default=None, help="the target description (default: $STACKPROOF_TARGET, "
                          "then the lab's)")
    validate.add_argument("--connect", action="store_true", help="also reach every endpoint the target names")
    validate.set_defaults(func=cmd_validate)

    schema = sub.add_parser(
        "schema", help="print the target description's JSON Schema", formatter_class=raw,
        description="Print the JSON Schema of stackproof.yaml, with a description for every field. Editors "
                    "with a YAML language server complete and check the file with it.",
        epilog=_examples("stackproof schema > stackproof.schema.json",
                         "# then, as the first line of stackproof.yaml:",
                         "# yaml-language-server: $schema=stackproof.schema.json"))
    schema.set_defaults(func=cmd_schema)

    lab = sub.add_parser("lab", help="the embedded lab: up | down | status | logs | fault (see `stackproof lab "
                         "--help`)", usage="stackproof lab COMMAND [ARGS...]", formatter_class=raw,
                         description=LAB_DESCRIPTION,
                         epilog=_examples("stackproof lab up", "stackproof lab status --json",
                                          "stackproof lab fault inject data-nic-down", "stackproof lab up --help"))
    lab.add_argument("lab_args", nargs=argparse.REMAINDER, metavar="COMMAND [ARGS...]",
                     help="the lab command and its arguments")
    lab.set_defaults(func=cmd_lab, print_lab_help=lab.print_help)
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
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
