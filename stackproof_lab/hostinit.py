"""PID 1 of a lab host: makes its file system look like the host's, then reaps orphans until told to stop.

Started by the lab (``stackproof_lab.hostnet``) as the first process of new PID, mount and UTS namespaces
inside the host's network namespace, with /proc already mounted for the new PID namespace:

    python3 hostinit.py --hostname kvm-1 --spec <file.json> --ready <file>

The spec names overlays (a writable layer over a system directory, so that the host can have
/etc/nova without touching the machine's /etc), tmpfs mounts (its own /run) and bind mounts (the
host's directories of the lab state dir at production paths). Stdlib only: it runs with any Python 3.
When it exits, the kernel ends every process of the host: that is how a host goes down.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"hostinit: mount {' '.join(args)}: {result.stderr.strip()}")


def _prepare(spec: dict) -> None:
    # Our own sysfs: /sys/class/net then shows this host's interfaces, not the machine's.
    _mount("-t", "sysfs", "sysfs", "/sys")
    for overlay in spec.get("overlays", []):
        for folder in (overlay["upper"], overlay["work"]):
            os.makedirs(folder, exist_ok=True)
        target = overlay["target"]
        _mount("-t", "overlay", "overlay", "-o",
               f"lowerdir={target},upperdir={overlay['upper']},workdir={overlay['work']}", target)
    for target in spec.get("tmpfs", []):
        _mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", target)
    for folder in spec.get("dirs", []):
        os.makedirs(folder, mode=0o755, exist_ok=True)
    for source, target in spec.get("binds", []):
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        elif not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        _mount("--bind", source, target)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hostname", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--ready", required=True)
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    socket.sethostname(args.hostname)
    _prepare(spec)
    # PID 1 gets no default signal actions: without a handler SIGTERM would be ignored.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    with open(args.ready, "w") as f:
        f.write(f"{time.time()}\n")
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(1)  # no children yet; orphans adopted meanwhile are reaped on the next turn


if __name__ == "__main__":
    main()
