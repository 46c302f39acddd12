"""Install what the lab needs: Debian packages system-wide, OpenStack into the lab's own virtualenv.

Idempotent and cheap when nothing changed: Debian packages are checked with dpkg-query, and the
virtualenv carries a stamp with the hash of requirements.txt, constraints.txt and the plugin sources.
Package scripts must never start the system MariaDB or RabbitMQ (the lab runs private instances), so
apt runs behind a policy-rc.d that denies service starts.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from stackproof_lab.errors import LabError
from stackproof_lab.layout import LAB_PACKAGE, Layout
from stackproof_lab.progress import Progress

APT_PACKAGES = [
    "mariadb-server",  # private mariadbd instance (binaries only; the system service stays off)
    "mariadb-client",  # the lab's own SQL: create databases, read service heartbeats
    "rabbitmq-server",  # private RabbitMQ node
    "qemu-utils",  # qemu-img: build lab images; cinder converts images to raw volumes
    "gcc",  # uWSGI compiles from its sdist
    "libc6-dev",
    "openssh-server",  # each lab host's sshd
    "nftables",  # host-level faults: a firewall rule in a host's network namespace; the NSX data plane
    "iputils-ping",  # the lab's guests (instance namespaces run the host's tools): ping and nc, as guest images have
    "netcat-openbsd",
    "iputils-arping",  # the NSX edge announces floating IPs with a gratuitous ARP, as neutron's L3 agent does
    "dnsmasq-base",  # the edge's DHCP server for each network, as NSX's and neutron's DHCP serve instances
    "busybox",  # ... and the guests' DHCP client (udhcpc), as small cloud images have
    "openvswitch-switch",  # the KVM transport nodes' nsx-managed bridge (userspace datapath: no kernel module here)
    "ethtool",  # ... whose veths must checksum what they send: the userspace datapath reads frames, not offloads
    "rpcbind",  # the storage host's NFS server: portmapper for NFSv3 clients
    "nfs-ganesha",  # ... a user-space NFS server (this kernel has no nfsd)
    "nfs-ganesha-vfs",
    "qemu-system-common",  # qemu-storage-daemon: the KVM computes' NFS volume connector (FUSE export)
    "qemu-block-extra",  # ... with qemu's NFS block driver (libnfs)
]
REQUIREMENTS = LAB_PACKAGE / "requirements.txt"
CONSTRAINTS = LAB_PACKAGE / "constraints.txt"
PLUGINS = LAB_PACKAGE / "plugins"
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
# Another engineer may be installing packages at the same time: wait for the dpkg lock, boundedly.
APT = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-q"]
APT_TIMEOUT = 900
PIP_TIMEOUT = 1200
UV_VERSION = "0.9.5"
EXPECTED_PACKAGES = 182
# Pinned packages PyPI serves only as source: built once into the wheel cache (lower-case names).
SOURCE_ONLY = ("uwsgi", "ovs", "simplegeneric")  # dist-infos in a complete lab venv (for the progress line only)


def missing_apt_packages() -> list[str]:
    wanted = list(APT_PACKAGES)
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not include.exists():
        # A Debian system Python needs its headers to build uWSGI.
        wanted.append(f"python3.{sys.version_info.minor}-dev")
    if importlib.util.find_spec("ensurepip") is None:
        # Debian's own Python ships venv's pip bootstrap separately.
        wanted.append(f"python3.{sys.version_info.minor}-venv")
    missing = []
    for package in wanted:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
        if "install ok installed" not in result.stdout:
            missing.append(package)
    return missing


def install_apt(log: Path, progress: Progress | None = None) -> str:
    """Install missing Debian packages; returns a short note of what it did."""
    missing = missing_apt_packages()
    if not missing:
        return "already installed"
    if shutil.which("apt-get") is None:
        raise LabError(f"missing Debian packages {' '.join(missing)} and no apt-get on this machine")
    if os.geteuid() != 0:
        raise LabError(f"missing Debian packages {' '.join(missing)}; install them as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    placed_policy = False
    if not POLICY_RC_D.exists():
        # Exit code 101 = "action forbidden": postinst scripts then do not start mariadb/rabbitmq.
        POLICY_RC_D.write_text("#!/bin/sh\n# placed by the stackproof lab during its apt-get install\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
        placed_policy = True
    try:
        _run([*APT, "update"], log, env=env, timeout=APT_TIMEOUT, what="apt-get update", progress=progress)
        _run(
            [*APT, "install", "--no-install-recommends", *missing],
            log,
            env=env,
            timeout=APT_TIMEOUT,
            what=f"apt-get install {' '.join(missing)}",
            progress=progress,
        )
    finally:
        if placed_policy:
            POLICY_RC_D.unlink(missing_ok=True)
    return f"installed {' '.join(missing)}"


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc" or ".egg-info" in str(file):
                continue
            digest.update(str(file.relative_to(LAB_PACKAGE)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def cache_dir() -> Path:
    """Downloads and builds that outlive the lab's state dir (``down``, ``rm -rf .lab``): uv and its wheel
    cache, so that a second machine-local venv costs no download and no uWSGI compile."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stackproof-lab"


def _uv(log: Path, progress: Progress | None) -> Path | None:
    """uv (PyPI's fast installer): on PATH, in the cache, or installed into the cache with pip; None when it
    cannot be had (the install then uses pip)."""
    found = shutil.which("uv")
    if found:
        return Path(found)
    target = cache_dir() / "uv"
    binary = target / "bin" / "uv"
    if not binary.exists():
        try:
            _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target",
                  str(target), f"uv=={UV_VERSION}"], log, timeout=300, what="pip install uv", progress=progress)
        except LabError:
            return None
    return binary if binary.exists() else None


def _uv_env() -> dict[str, str]:
    env = {**os.environ, "UV_CACHE_DIR": str(cache_dir() / "uv-cache"), "UV_NO_PROGRESS": "1"}
    # The machine's CA bundle (pip's), for a registry reached through a TLS-inspecting proxy.
    cert = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    if cert:
        env["SSL_CERT_FILE"] = cert
    return env


def _source_wheels(python: Path, log: Path, progress: Progress | None) -> Path:
    """Wheels of the pinned packages PyPI has only as source (uWSGI compiles for ~100 s), built once into the
    cache and found there by every later install: neither pip's nor uv's cache kept the build for us."""
    folder = cache_dir() / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    pins = {line.split("==")[0].lower(): line.strip() for line in CONSTRAINTS.read_text().splitlines()
            if "==" in line and not line.startswith("#")}
    wanted = [pins[name] for name in SOURCE_ONLY if name in pins]
    have = {p.name.split("-")[0].lower().replace("_", "-") + "==" + p.name.split("-")[1] for p in folder.glob("*.whl")}
    missing = [pin for pin in wanted if pin.lower().replace("_", "-") not in have]
    if missing:
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check", "-w",
              str(folder), *missing], log, timeout=PIP_TIMEOUT, what=f"build wheels of {', '.join(missing)}",
             progress=progress)
    return folder


def _installed_count(layout: Layout) -> int:
    return sum(1 for _ in layout.venv.glob("lib/python*/site-packages/*.dist-info"))


def install_venv(layout: Layout, log: Path, progress: Progress | None = None) -> str:
    """Create the lab virtualenv and install the services and the lab plugins into it (uv when it can be
    had, else pip), saying how far along it is while it runs."""
    uv = _uv(log, progress)
    python = layout.venv_bin / "python"
    if not python.exists():
        argv = ([str(uv), "venv", "--seed", "--python", sys.executable, str(layout.venv)] if uv
                else [sys.executable, "-m", "venv", str(layout.venv)])
        _run(argv, log, timeout=300, what="create the lab venv", env=_uv_env() if uv else None)
    notes = []
    installer = ([str(uv), "pip", "install", "--python", str(python)] if uv
                 else [str(python), "-m", "pip", "install", "-q"])
    env = _uv_env() if uv else None
    services_stamp = layout.venv / ".lab-services"
    services_hash = _fingerprint([REQUIREMENTS, CONSTRAINTS])
    if _read(services_stamp) != services_hash:
        wheels = _source_wheels(python, log, progress)
        _run([*installer, "--find-links", str(wheels), "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)], log,
             timeout=PIP_TIMEOUT,
             what=f"{'uv' if uv else 'pip'} install of the OpenStack services", env=env, progress=progress,
             count=lambda: f"{_installed_count(layout)} of ~{EXPECTED_PACKAGES} packages in the venv")
        services_stamp.write_text(services_hash)
        notes.append(f"services installed with {'uv' if uv else 'pip'}")
    plugins_stamp = layout.venv / ".lab-plugins"
    plugins_hash = _fingerprint([PLUGINS])
    if _read(plugins_stamp) != plugins_hash:
        # Build from a copy: an in-tree build would leave build/ and *.egg-info in the repository.
        with tempfile.TemporaryDirectory(prefix="lab-plugins-") as tmp:
            copy = Path(tmp) / "plugins"
            shutil.copytree(PLUGINS, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
            _run([*installer, "--no-deps", "--reinstall" if uv else "--force-reinstall", str(copy)], log,
                 timeout=300, what="install of stackproof_lab/plugins", env=env, progress=progress)
        plugins_stamp.write_text(plugins_hash)
        notes.append("plugins installed")
    return ", ".join(notes) or "up to date"


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


TICK = 15.0  # seconds between "still running" lines of a long install step


def _run(argv: list[str], log: Path, *, timeout: float, what: str, env: dict[str, str] | None = None,
         progress: Progress | None = None, count: Callable[[], str] | None = None) -> None:
    """Run an install command, output to the log; while it runs, say every TICK s that it still does (and how
    far along it is when ``count`` can tell)."""
    with open(log, "ab") as out:
        out.write(f"\n===== lab install: {' '.join(argv)}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        except FileNotFoundError:
            raise LabError(f"{what}: {argv[0]} not found") from None
        began = time.monotonic()
        while True:
            try:
                proc.wait(timeout=TICK)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - began
                if elapsed > timeout:
                    proc.kill()
                    proc.wait()
                    raise LabError(f"gave up after {timeout:.0f}s waiting for {what}; see {log}") from None
                if progress is not None:
                    progress.say(f"{what}: still running after {elapsed:.0f}s" + (f", {count()}" if count else ""))
    if proc.returncode != 0:
        raise LabError(f"{what} failed (exit {proc.returncode}); see {log}")
