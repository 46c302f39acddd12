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
from pathlib import Path

from stackproof_lab.errors import LabError
from stackproof_lab.layout import LAB_PACKAGE, Layout

APT_PACKAGES = [
    "mariadb-server",  # private mariadbd instance (binaries only; the system service stays off)
    "mariadb-client",  # the lab's own SQL: create databases, read service heartbeats
    "rabbitmq-server",  # private RabbitMQ node
    "qemu-utils",  # qemu-img: build lab images; cinder converts images to raw volumes
    "gcc",  # uWSGI compiles from its sdist
    "libc6-dev",
]
REQUIREMENTS = LAB_PACKAGE / "requirements.txt"
CONSTRAINTS = LAB_PACKAGE / "constraints.txt"
PLUGINS = LAB_PACKAGE / "plugins"
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
# Another engineer may be installing packages at the same time: wait for the dpkg lock, boundedly.
APT = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-q"]
APT_TIMEOUT = 900
PIP_TIMEOUT = 1200


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


def install_apt(log: Path) -> str:
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
        _run([*APT, "update"], log, env=env, timeout=APT_TIMEOUT, what="apt-get update")
        _run(
            [*APT, "install", "--no-install-recommends", *missing],
            log,
            env=env,
            timeout=APT_TIMEOUT,
            what=f"apt-get install {' '.join(missing)}",
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


def install_venv(layout: Layout, log: Path) -> str:
    """Create the lab virtualenv and pip-install the services and the lab plugins into it."""
    python = layout.venv_bin / "python"
    if not python.exists():
        _run([sys.executable, "-m", "venv", str(layout.venv)], log, timeout=300, what="python -m venv")
    notes = []
    services_stamp = layout.venv / ".lab-services"
    services_hash = _fingerprint([REQUIREMENTS, CONSTRAINTS])
    if _read(services_stamp) != services_hash:
        _run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)],
            log,
            timeout=PIP_TIMEOUT,
            what="pip install of the OpenStack services",
        )
        services_stamp.write_text(services_hash)
        notes.append("services installed")
    plugins_stamp = layout.venv / ".lab-plugins"
    plugins_hash = _fingerprint([PLUGINS])
    if _read(plugins_stamp) != plugins_hash:
        # Build from a copy: an in-tree build would leave build/ and *.egg-info in the repository.
        with tempfile.TemporaryDirectory(prefix="lab-plugins-") as tmp:
            copy = Path(tmp) / "plugins"
            shutil.copytree(PLUGINS, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
            _run(
                [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(copy)],
                log,
                timeout=300,
                what="pip install of stackproof_lab/plugins",
            )
        plugins_stamp.write_text(plugins_hash)
        notes.append("plugins installed")
    return ", ".join(notes) or "up to date"


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def _run(argv: list[str], log: Path, *, timeout: float, what: str, env: dict[str, str] | None = None) -> None:
    with open(log, "ab") as out:
        out.write(f"\n===== lab install: {' '.join(argv)}\n".encode())
        out.flush()
        try:
            result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f"gave up after {timeout:.0f}s waiting for {what}; see {log}") from None
        except FileNotFoundError:
            raise LabError(f"{what}: {argv[0]} not found") from None
    if result.returncode != 0:
        raise LabError(f"{what} failed (exit {result.returncode}); see {log}")
