"""Processes the lab starts: spawn detached, remember by pid file, measure, stop for sure.

Each service runs in its own session (so its process group id is its pid) and is recorded in
``run/<name>.pid`` as "pid starttime": the start time guards against a recycled pid, so the lab never
signals a process it did not start. Stopping signals the whole group: uwsgi masters, their workers,
and Erlang's helper processes go together.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from stackproof_lab.errors import LabError

_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcessRecord:
    """A process the lab started: pid plus its kernel start time (clock ticks since boot)."""

    pid: int
    starttime: int


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces; everything after the last ")" is regular.
    return raw[raw.rindex(")") + 2 :].split()


def _starttime(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_alive(record: ProcessRecord) -> bool:
    """True if the recorded process still runs (not a zombie, not a recycled pid)."""
    fields = _stat_fields(record.pid)
    if not fields or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == record.starttime


def group_members(pgid: int) -> list[int]:
    """Live pids whose process group is ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def rss_bytes(pids: list[int]) -> int:
    """Resident set size summed over ``pids`` (processes that vanished count as 0)."""
    total = 0
    for pid in pids:
        try:
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        total += resident * _PAGE
    return total


def pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def _pid_namespace(pid: int | str = "self") -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (its main thread's)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return []


def _outer_pid(inner: int, namespace: str) -> int:
    """The pid, as this namespace sees it, of the process that is ``inner`` in PID namespace ``namespace``
    (a service started from inside its host knows only its own pid there)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or _pid_namespace(entry) != namespace:
            continue
        try:
            for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                if line.startswith("NSpid:") and int(line.split()[-1]) == inner:
                    return int(entry)
        except (OSError, ValueError):
            continue
    return 0


def read_record(run_dir: Path, name: str) -> ProcessRecord | None:
    """The recorded process of service ``name`` if it is still alive, else None.

    A process inside a lab host has two pids: the machine's and its host's (PID namespace). The record
    keeps both with the namespace, and answers with the one the caller's namespace sees.
    """
    path = pid_file(run_dir, name)
    try:
        fields = path.read_text().split()
        if len(fields) == 2:
            record = ProcessRecord(int(fields[0]), int(fields[1]))
        else:
            outer, inner, start, namespace = int(fields[0]), int(fields[1]), int(fields[2]), fields[3]
            if _pid_namespace() == namespace:
                record = ProcessRecord(inner, start)
            else:
                record = ProcessRecord(outer or _outer_pid(inner, namespace), start)
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return record if record.pid and is_alive(record) else None


def _nspid(pid: int) -> list[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return [int(p) for p in line.split()[1:]]
    except OSError:
        pass
    return []


SPAWN_TIMEOUT = 5.0  # seconds for nsenter to fork the service inside its host


def spawn(
    name: str,
    argv: list[str],
    *,
    run_dir: Path,
    log_path: Path,
    env: dict[str, str],
    cwd: Path,
    enter: list[str] | None = None,
    nested: bool = False,
) -> ProcessRecord:
    """Start ``argv`` in its own session, output appended to ``log_path``, and record it.

    ``enter`` is the prefix that runs it inside a lab host (nsenter into the host's namespaces, then setsid):
    nsenter forks the service into the host's PID namespace and waits for it; the record is the service's.
    ``nested``: this process itself runs inside a lab host, which cannot see the service's machine pid.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n===== lab: starting {name} at {time.strftime('%F %T')}: {' '.join(argv)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                [*(enter or []), *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise LabError(f"cannot start {name}: {argv[0]}: {exc.strerror}") from None
    pid = proc.pid
    if enter:
        deadline = time.monotonic() + SPAWN_TIMEOUT
        while not (found := children(proc.pid)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"{name} did not start inside its host; see {log_path}")
            time.sleep(0.01)
        pid = found[0]
    start = _starttime(pid)
    if start is None:
        raise LabError(f"{name} exited immediately; see {log_path}")
    nspid = _nspid(pid)
    inner = nspid[-1] if nspid else pid
    write_record(run_dir, name, outer=0 if nested else pid, inner=inner, starttime=start, namespace=_pid_namespace(pid))
    # The Popen object is dropped on purpose: the lab CLI exits while services keep running (while the
    # CLI lives, subprocess's own bookkeeping reaps a child that dies early).
    return ProcessRecord(pid, start)


def write_record(run_dir: Path, name: str, *, outer: int, inner: int, starttime: int, namespace: str) -> None:
    """The record of a started process: its pid outside (0: unknown) and inside its PID namespace."""
    pid_file(run_dir, name).write_text(f"{outer} {inner} {starttime} {namespace}\n")


def own_namespace() -> str:
    return _pid_namespace()


def starttime(pid: int) -> int | None:
    return _starttime(pid)


def stop_group(record: ProcessRecord, *, grace: float) -> bool:
    """SIGTERM the process group, wait up to ``grace`` s, then SIGKILL what is left.

    Returns True if SIGKILL was needed. nova-compute, cinder-volume and uwsgi masters can sit on
    SIGTERM for many seconds; the lab does not wait for them longer than ``grace``.
    """
    if not is_alive(record):
        return False
    pgid = record.pid
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not group_members(pgid):
            return False
        time.sleep(0.1)
    _signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_members(pgid):
        raise LabError(f"process group {pgid} survived SIGKILL for 5s")
    return True


def kill_group(record: ProcessRecord) -> None:
    """SIGKILL the whole group at once (a crash, as a fault injects it)."""
    if is_alive(record):
        _signal_group(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while group_members(record.pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def listeners(ports: set[int]) -> dict[int, set[int]]:
    """For each of ``ports`` that some process listens on (TCP, v4 or v6): the listening pids."""
    inodes: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] != "0A":  # TCP_LISTEN
                continue
            port = int(cols[1].rsplit(":", 1)[1], 16)
            if port in ports:
                inodes[cols[9]] = port
    found: dict[int, set[int]] = {}
    if not inodes:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            fds = os.listdir(fd_dir)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                found.setdefault(inodes[target[8:-1]], set()).add(int(entry))
    # A socket whose owner vanished between the two scans still counts as a listener (pid unknown).
    for port in set(inodes.values()) - set(found):
        found[port] = set()
    return found


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a text file (bounded read, for big logs)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256 * 1024))
            data = f.read().decode(errors="replace")
    except FileNotFoundError:
        raise LabError(f"no log yet at {path}") from None
    return "\n".join(data.splitlines()[-lines:])


def stop_pid(pid: int, *, grace: float = 3) -> None:
    """SIGTERM one process (not a group), SIGKILL after ``grace`` s; for leftovers found by port."""
    start = _starttime(pid)
    if start is None:
        return
    record = ProcessRecord(pid, start)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while is_alive(record) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not is_alive(record):
            return


def age(record: ProcessRecord) -> float:
    """Seconds since the process started."""
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - record.starttime / os.sysconf("SC_CLK_TCK")
