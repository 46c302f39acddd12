"""``python -m stackproof_lab up [--nested] | down | status | logs [SERVICE] | logs --errors-since 'MOMENT'``
``| fault inject|clear NAME | fault list [--json] | hosts [--json]``.

Problems the operator has to act on print one line and exit non-zero; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from stackproof_lab import faults, lifecycle, log_errors, processes, services, topology
from stackproof_lab import layout as layout_module
from stackproof_lab.errors import LabError
from stackproof_lab.progress import Progress


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stackproof_lab",
        description="The stackproof lab: a small OpenStack "
        "on loopback (state dir: $STACKPROOF_LAB_DIR or <repo>/.lab).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="install, start and provision the lab (idempotent)")
    up.add_argument("--nested", action="store_true",
                    help="then an overcloud in the lab's instances (OpenStack on OpenStack; nested.py)")
    down = commands.add_parser("down", help="stop every process the lab started")
    down.add_argument("--nested", action="store_true",
                      help="only the overcloud: its processes, then its servers and networks in the lab")
    status = commands.add_parser("status", help="services with pid, port, health and RSS; active faults")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    logs = commands.add_parser("logs", help="tail a service's log (no SERVICE: list the logs)")
    logs.add_argument("service", nargs="?")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("--errors-since", metavar="'YYYY-MM-DD HH:MM:SS'",
                      help="instead: the ERROR records (one line each) every OpenStack service logged since "
                      "then (local time), the last --lines of each")
    fault = commands.add_parser("fault", help="inject, clear or list faults")
    fault_commands = fault.add_subparsers(dest="fault_command", required=True)
    for verb in ("inject", "clear"):
        sub = fault_commands.add_parser(verb)
        sub.add_argument("name")
    listing = fault_commands.add_parser("list")
    listing.add_argument("--json", action="store_true")
    hosts = commands.add_parser("hosts", help="the hosts this lab profile declares: name, roles, address")
    hosts.add_argument("--json", action="store_true")
    return parser


def _hosts(layout: layout_module.Layout, as_json: bool) -> int:
    rows = [{"name": h.name, "roles": list(h.roles), "address": h.address(layout)} for h in topology.TOPOLOGY.hosts]
    if as_json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(f"{row['name']:16} {row['address']:16} {','.join(row['roles'])}")
    return 0


def _mb(value: int) -> str:
    return f"{value / 2**20:7.0f} MB"


def _status(layout: layout_module.Layout, as_json: bool) -> int:
    rows = lifecycle.status(layout)
    active = faults.active(layout)
    total = sum(int(row["rss"]) for row in rows)
    if as_json:
        print(
            json.dumps(
                {"state_dir": str(layout.state), "services": rows, "total_rss": total, "faults": active}, indent=2
            )
        )
    else:
        print(f"{'SERVICE':22} {'HOST':11} {'PID':>8} {'PORT':>6}  {'HEALTH':14} {'RSS':>10}")
        for row in rows:
            print(
                f"{row['service']:22} {row['host']:11} {row['pid'] or '-':>8} {row['port'] or '-':>6}  "
                f"{row['health']:14} {_mb(int(row['rss'])) if row['pid'] else '-':>10}"
            )
        print(f"{'total':22} {'':11} {'':>8} {'':>6}  {'':14} {_mb(total):>10}")
        print(f"faults: {', '.join(sorted(active)) if active else 'none active'}")
        print(f"state: {layout.state}")
    held = faults.suppressed_services(layout)
    down = [row for row in rows if row["health"] != "up" and row["service"] not in held]
    return 0 if not down else 3


def _logs(layout: layout_module.Layout, name: str | None, lines: int, follow: bool) -> int:
    if name is None:
        for service in (*services.SERVICES, *services.ON_DEMAND):
            path = service.log(layout)
            size = f"{path.stat().st_size / 1024:.0f} kB" if path.exists() else "-"
            print(f"{service.name:22} {service.host:11} {size:>10}  {path}")
        return 0
    path = services.get(name).log(layout)
    if follow:
        if not path.exists():
            raise LabError(f"no log yet at {path}")
        os.execvp("tail", ["tail", "-n", str(lines), "-F", str(path)])
    print(processes.tail(path, lines))
    return 0


def _errors(layout: layout_module.Layout, since: str, lines: int) -> int:
    every = [(service.name, service.log(layout)) for service in (*services.SERVICES, *services.ON_DEMAND)]
    try:
        found = log_errors.errors_since(every, since, lines)
    except ValueError as exc:
        raise LabError(str(exc)) from None
    print("\n".join(found) if found else f"no ERROR records in the lab's service logs since {since}")
    return 0


def _faults(layout: layout_module.Layout, args: argparse.Namespace) -> int:
    if args.fault_command == "list":
        listing = faults.catalogue(layout)
        if args.json:
            print(json.dumps(listing, indent=2))
        else:
            for fault in listing:
                flag = "ACTIVE" if fault["active"] else "      "
                print(f"{flag} {fault['name']:32} {','.join(fault['controls']):24} {fault['description']}")
        return 0
    layout.ensure_dirs()
    progress = Progress(f"lab fault {args.fault_command}")

    def converge(targets: list[str], vcenter_restarted: bool = False) -> None:
        lifecycle.converge(layout, targets, progress, vcenter_restarted=vcenter_restarted)

    action = faults.inject if args.fault_command == "inject" else faults.clear
    print(action(layout, args.name, converge))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        layout = layout_module.current()
        if args.command == "up":
            if args.nested and topology.NESTED:
                raise LabError("--nested: this lab is itself an overcloud")
            lifecycle.up(layout)
            if args.nested:
                lifecycle.up_nested(layout)
            return 0
        if args.command == "hosts":
            return _hosts(layout, args.json)
        if args.command == "down" and args.nested:
            lifecycle.down_nested(layout)
            return 0
        if args.command == "down":
            lifecycle.down(layout)
            return 0
        if args.command == "status":
            return _status(layout, args.json)
        if args.command == "logs" and args.errors_since:
            return _errors(layout, args.errors_since, args.lines)
        if args.command == "logs":
            return _logs(layout, args.service, args.lines, args.follow)
        return _faults(layout, args)
    except LabError as exc:
        print(f"lab {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"lab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
