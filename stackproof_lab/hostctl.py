"""``lab-service``: the lab's services of one host, driven from inside that host as systemctl drives units.

    lab-service list                    the services of this host with their state
    lab-service status NAME             exit 0 if it runs and answers, 3 if not
    lab-service start NAME              start it; returns once it is healthy
    lab-service stop NAME               stop it (SIGTERM, SIGKILL after its grace)
    lab-service kill NAME               SIGKILL its processes (a crash)
    lab-service restart NAME

Runs inside the host (``$STACKPROOF_LAB_HOST``, set by the lab's ``lab-service`` script), with the pids
the host sees. NAME is the service's name on the host (``nova-compute``, ``cinder-volume``, ``sshd``).
"""

from __future__ import annotations

import argparse
import os
import sys

from stackproof_lab import layout as layout_module
from stackproof_lab import processes, services
from stackproof_lab.errors import LabError

START_TIMEOUT = 120


def _service(host: str, unit: str) -> services.Service:
    for service in (*services.SERVICES, *services.ON_DEMAND):
        if service.host == host and service.unit_name == unit:
            return service
    known = sorted(s.unit_name for s in services.SERVICES if s.host == host)
    raise LabError(f"{host} has no service {unit!r}; it has: {', '.join(known)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-service", description=__doc__.splitlines()[0])
    parser.add_argument("verb", choices=("list", "status", "start", "stop", "kill", "restart"))
    parser.add_argument("name", nargs="?")
    args = parser.parse_args(argv)
    host = os.environ.get(services.HOST_ENV)
    try:
        if not host:
            raise LabError(f"${services.HOST_ENV} is not set: run lab-service inside a lab host")
        layout = layout_module.current()
        if args.verb == "list":
            for service in services.SERVICES:
                if service.host == host:
                    print(f"{service.unit_name:20} {services.health(layout, service)}")
            return 0
        if not args.name:
            raise LabError(f"lab-service {args.verb} needs a service name")
        service = _service(host, args.name)
        if args.verb == "status":
            state = services.health(layout, service)
            print(f"{service.unit_name}: {state}")
            return 0 if state == "up" else 3
        if args.verb in ("stop", "restart"):
            print(f"{service.unit_name}: {services.stop(layout, service)}")
        if args.verb == "kill":
            record = processes.read_record(layout.run, service.name)
            if record is None:
                print(f"{service.unit_name}: was not running")
            else:
                processes.kill_group(record)
                print(f"{service.unit_name}: pid {record.pid} killed with SIGKILL")
        if args.verb in ("start", "restart"):
            services.start(layout, service)
            services.wait_healthy(layout, service, timeout=START_TIMEOUT)
            print(f"{service.unit_name}: running and healthy")
        return 0
    except LabError as exc:
        print(f"lab-service: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
