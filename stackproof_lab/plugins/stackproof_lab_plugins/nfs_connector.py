"""The KVM computes' NFS volume connector: a volume file on the storage host's NFS export, reached over the
compute's data NIC, shown where nova's libvirt NFS volume driver shows it.

libvirt's NFS volume driver mounts the share at ``[libvirt] nfs_mount_point_base/<md5 of the export>`` and
hands qemu the volume file on it. This kernel has no NFS client, so the lab does what qemu itself can do:
``qemu-storage-daemon`` opens the volume with qemu's NFS block driver (libnfs: portmapper, mountd and NFSv3
over TCP, on the storage network, through the compute's data NIC) and exports it through FUSE at exactly
that path. Whoever looks at the compute host finds the volume where a libvirt host has it, and every byte
written there crosses the data network. A data NIC that is down makes the connection fail at attach.

``[libvirt] nfs_mount_options`` ``soft,timeo=T,retrans=R`` is honoured as a soft mount is: the connection
must come up within T/10 x R seconds, and a watchdog ends an established connection (its I/O then fails
with an error instead of hanging) once the NFS server has been unreachable that long.

    python -m stackproof_lab_plugins.nfs_connector watch --server HOST --pidfile FILE --timeout SECONDS
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time

NFS_PORT = 2049
DEFAULT_TIMEOUT = 60.0  # seconds: timeo=600 deciseconds x retrans=1 when nothing is configured
WATCH_INTERVAL = 2.0


class ConnectError(Exception):
    """The volume could not be connected; the message says where and why."""


def soft_timeout(mount_options: str | None) -> float:
    """Seconds a soft mount with these options waits before it fails an operation."""
    options = dict(item.partition("=")[::2] for item in (mount_options or "").split(",") if item)
    try:
        timeo = float(options.get("timeo", 600)) / 10
        retrans = max(int(options.get("retrans", 1)), 1)
    except ValueError:
        return DEFAULT_TIMEOUT
    return timeo * retrans


def mount_point(base: str, export: str) -> str:
    """Where libvirt's NFS volume driver mounts ``export`` (nova/virt/libvirt/volume/fs.py)."""
    return os.path.join(base, hashlib.md5(export.encode(), usedforsecurity=False).hexdigest())


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _pidfile(state_dir: str, name: str) -> str:
    return os.path.join(state_dir, "lab-nfs-connector", f"{name}.pid")


def _read_pid(path: str) -> int | None:
    try:
        return int(open(path).read().strip())
    except (OSError, ValueError):
        return None


def connect(export: str, name: str, *, base: str, state_dir: str, mount_options: str | None) -> str:
    """Connect volume file ``name`` of ``export`` (``server:/path``); returns its path on this host."""
    server, _, directory = export.partition(":")
    path = os.path.join(mount_point(base, export), name)
    if _mounted(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "a").close()  # a FUSE export mounts over a file
    pidfile = _pidfile(state_dir, name)
    os.makedirs(os.path.dirname(pidfile), exist_ok=True)
    timeout = soft_timeout(mount_options)
    blockdev = (f"driver=nfs,node-name=volume,server.type=inet,server.host={server},"
                f"path={os.path.join(directory, name)},cache.direct=on")
    argv = ["qemu-storage-daemon", "--blockdev", blockdev, "--export",
            f"type=fuse,id=volume,node-name=volume,mountpoint={path},writable=on",
            "--daemonize", "--pidfile", pidfile]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise ConnectError(f"NFS server {server} did not answer within {timeout:.0f}s (soft mount timeout) "
                           f"for {export}/{name}") from None
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()
        raise ConnectError(f"cannot reach {export}/{name} over NFS: {reason[-1] if reason else result.returncode}")
    # The watchdog of a soft mount: its own session, so that a restart of nova-compute leaves it (and
    # the connection) alone, as a restart leaves a libvirt guest's qemu alone.
    subprocess.Popen([sys.executable, "-m", "stackproof_lab_plugins.nfs_connector", "watch", "--server", server,
                      "--pidfile", pidfile, "--timeout", str(timeout)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, close_fds=True)
    return path


def disconnect(export: str, name: str, *, base: str, state_dir: str) -> None:
    """Undo ``connect``: the export goes, the stand-in file goes (idempotent)."""
    path = os.path.join(mount_point(base, export), name)
    pidfile = _pidfile(state_dir, name)
    pid = _read_pid(pidfile)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if _mounted(path):
        subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(pidfile)


def _reachable(server: str) -> bool:
    try:
        with socket.create_connection((server, NFS_PORT), timeout=WATCH_INTERVAL):
            return True
    except OSError:
        return False


def watch(server: str, pidfile: str, timeout: float) -> int:
    """End the connection (its qemu-storage-daemon) once ``server`` has been unreachable ``timeout`` s."""
    unreachable_since: float | None = None
    while True:
        pid = _read_pid(pidfile)
        if pid is None or not os.path.exists(f"/proc/{pid}"):
            return 0  # disconnected
        if _reachable(server):
            unreachable_since = None
        else:
            unreachable_since = unreachable_since or time.monotonic()
            if time.monotonic() - unreachable_since >= timeout:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # pending I/O on the FUSE export fails at once
                return 1
        time.sleep(WATCH_INTERVAL)


def main() -> int:
    parser = argparse.ArgumentParser(prog="nfs_connector")
    commands = parser.add_subparsers(dest="command", required=True)
    watcher = commands.add_parser("watch")
    watcher.add_argument("--server", required=True)
    watcher.add_argument("--pidfile", required=True)
    watcher.add_argument("--timeout", type=float, required=True)
    args = parser.parse_args()
    return watch(args.server, args.pidfile, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
