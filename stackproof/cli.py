"""stackproof: prove that a deployed OpenStack cloud does what its architecture promises.

Run checks by tier and area, list the controls, validate a target, clean up after a dead run, drive the lab.
Exit codes (README.md has the table, stackproof/exitcodes.py the meanings): 0 all good; 1 a check failed (or
cleanup left something); 2 interrupted; 4 bad input (target, clouds.yaml, credentials, an unreachable
endpoint); 5 no check selected; 6 nothing evaluated (every control skipped or deselected).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from stackproof import exitcodes, reports, secrets, shards
from stackproof.controls import AREAS, Control, collect_controls, table
from stackproof.errors import EXIT_BAD_INPUT, StackproofError
from stackproof.report import compare, evidence, junit, merge, model

# The checkout this package runs from (the tox envs install it editable), where suites/ and .lab/ live.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKERS = 4
EXIT_NOTHING_SELECTED = exitcodes.NOTHING_COLLECTED
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
    code = _run_phases(args, pytest.main)
    if code in (EXIT_NOTHING_SELECTED, exitcodes.NOTHING_EVALUATED):
        user_marks, _rest = _split_markexpr(list(args.pytest_args))
        print(f"stackproof: no control evaluated: tier {args.tier} and the markers "
              f"{_marker_expression(args, user_marks)!r} select no check, or every selected check was skipped "
              "(the summary above says which)", file=sys.stderr)
    return code


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
    for control_id in getattr(args, "control", []):
        extra += ["--control", control_id]
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


def _add_report_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--control", action="append", default=[], metavar="ID",
                     help="only this control (repeatable; e.g. to re-run what went red)")
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
        formatter_class=_Formatter, description="Merge the report directories of shards (or phases) of one run.",
        epilog=_examples("stackproof merge reports/run-a reports/run-b --output reports/nightly"))
    merging.add_argument("dirs", nargs="+", metavar="DIR", help="report directories or evidence.json files")
    merging.add_argument("--output", default=None, help="directory to write (default: reports/<merged run id>)")
    merging.add_argument("--run-id", default=None, help="the merged run's ID (default: new, or the parts' own)")
    merging.add_argument("--reports-dir", default=None, help="where run directories go (default: reports/)")
    merging.set_defaults(func=cmd_merge)

    comparing = sub.add_parser(
        "compare", help="compare two runs: newly red, fixed, still red, slower, new and removed controls",
        formatter_class=_Formatter, description="Compare two runs; exit 1 on a regression.",
        epilog=_examples("stackproof compare reports/20250101120000ab12 reports/latest"))
    comparing.add_argument("run_a", metavar="RUN_A", help="the earlier run: report directory or evidence.json")
    comparing.add_argument("run_b", metavar="RUN_B", help="the later run")
    comparing.add_argument("--threshold", type=float, default=compare.THRESHOLD * 100, metavar="PERCENT",
                           help="slower means more than this much slower (default %(default)g%%)")
    comparing.add_argument("--min-seconds", type=float, default=compare.MIN_SECONDS,
                           help="... and at least this many seconds slower (default %(default)g)")
    comparing.set_defaults(func=cmd_compare)


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
                         "stackproof run --tier full --control SP-BLK-006  # one control again",
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
    _add_report_arguments(run)
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="-- PYTEST_ARGS",
                     help="after --: passed to pytest (-k, -x, -n, -m to narrow, ...)")
    run.set_defaults(func=cmd_run)
    _add_report_commands(sub)

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
