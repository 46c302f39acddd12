"""How the node agent runs things: commands (a failure is CommandFailed, with what the command said), commands in
a network namespace, deletions that may find their object gone, and processes it starts and stops by pid file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path


class CommandFailed(Exception):
    pass


def run(*argv: str, stdin: str | None = None) -> str:
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise CommandFailed(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def inside(namespace: str, *argv: str, stdin: str | None = None) -> str:
    return run("ip", "netns", "exec", namespace, *argv, stdin=stdin)


def gone(*argv: str) -> None:
    """Delete something that may vanish meanwhile (a veth goes with its peer's namespace): gone is done."""
    try:
        run(*argv)
    except CommandFailed as exc:
        if "Cannot find device" not in str(exc) and "No such file" not in str(exc):
            raise


def pid_in(pid_file: Path) -> int:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError) as exc:
        raise CommandFailed(f"no pid in {pid_file}: {exc}") from None


def running(pid_file: Path, marker: str) -> bool:
    """Whether the process its pid file names runs and is the one meant: its command line holds ``marker`` (a
    guest's folder, a network id), so a pid reused by something else does not count."""
    try:
        command = Path(f"/proc/{pid_in(pid_file)}/cmdline").read_bytes()  # sshd retitles: "sshd: ... -f <config>"
    except (CommandFailed, OSError):
        return False
    return marker.encode() in command


def stop(pid_file: Path) -> None:
    """Stop what a pid file names, with its process group when it leads one (a guest's boot with its DHCP client
    or curl, a metadata proxy started in its own session)."""
    with contextlib.suppress(CommandFailed, OSError):  # not running, or gone already
        pid = pid_in(pid_file)
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:  # not a group leader
            os.kill(pid, signal.SIGTERM)
    pid_file.unlink(missing_ok=True)
