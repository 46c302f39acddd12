"""SSH into the lab hosts as into any deployment's: a key pair the lab made, each host's own host key, an
sshd per host, and the ssh_config and known_hosts a runner uses (host keys verified, never skipped).

Files (``<state>/ssh/``): ``id_ed25519`` (+ ``.pub``, also ``authorized_keys``), ``known_hosts``, ``config``;
per host (``<state>/hosts/<host>/ssh/``): its host key and ``sshd_config``; and ``lab-service`` in the host's
/usr/local/sbin (the lab's systemctl: ``lab-service start|stop|kill|restart|status NAME``).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from stackproof_lab import nested, topology
from stackproof_lab.errors import LabError
from stackproof_lab.layout import REPO, Layout
from stackproof_lab.topology import TOPOLOGY, Host

KEYGEN_TIMEOUT = 30


def identity_file(layout: Layout) -> Path:
    return layout.ssh / "id_ed25519"


def known_hosts(layout: Layout) -> Path:
    return layout.ssh / "known_hosts"


def config_file(layout: Layout) -> Path:
    return layout.ssh / "config"


def _host_key(layout: Layout, host: Host) -> Path:
    return layout.hosts / host.name / "ssh" / "ssh_host_ed25519_key"


def _keygen(path: Path, comment: str) -> None:
    if path.exists() and path.with_suffix(".pub").exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.unlink(missing_ok=True)
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                       check=True, capture_output=True, text=True, timeout=KEYGEN_TIMEOUT)
    except FileNotFoundError:
        raise LabError("ssh-keygen is missing (Debian's openssh-client): the lab hosts need it") from None
    except subprocess.CalledProcessError as exc:
        raise LabError(f"ssh-keygen {path}: {exc.stderr.strip()}") from None


# How every sshd of the lab takes logins (its hosts' and its guests'): root, with a key, nothing else.
KEY_ONLY_ROOT = """PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no"""


def _sshd_config(layout: Layout, host: Host) -> str:
    return f"""# Written by the stackproof lab for host {host.name}; regenerated on every up.
ListenAddress {host.address(layout)}
Port {topology.SSH_PORT}
HostKey {_host_key(layout, host)}
PidFile none
AuthorizedKeysFile {layout.ssh / 'authorized_keys'}
# The key sits in the lab's state dir (0700, files 0600, written by the lab), whose parents may be
# world-writable (a clone under /tmp): StrictModes would refuse it for /tmp's mode alone.
StrictModes no
{KEY_ONLY_ROOT}
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
LogLevel INFO
"""


def _lab_service(layout: Layout, host: Host) -> str:
    environment = " ".join(f"{key}={shlex.quote(value)}" for key, value in (
        ("STACKPROOF_LAB_DIR", str(layout.state)), ("STACKPROOF_LAB_PORT_BASE", str(layout.port_base)),
        (topology.PROFILE_ENV, topology.PROFILE), ("STACKPROOF_LAB_HOST", host.name)))
    return f"""#!/bin/sh
# lab-service start|stop|kill|restart|status|list [NAME]: the lab's services on {host.name}, as systemctl
# would drive units on a real host. Written by the stackproof lab.
cd {shlex.quote(str(REPO))} || exit 1
export {environment}
exec {shlex.quote(sys.executable)} -m stackproof_lab.hostctl "$@"
"""


def ensure(layout: Layout) -> str:
    """Keys, sshd configs, known_hosts, ssh_config and lab-service; idempotent."""
    layout.ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    _keygen(identity_file(layout), f"stackproof-lab@{topology.lab_id(layout)}")
    public = identity_file(layout).with_suffix(".pub").read_text()
    _write(layout.ssh / "authorized_keys", public, 0o600)
    known = []
    for host in TOPOLOGY.hosts:
        key = _host_key(layout, host)
        _keygen(key, f"{host.name}@{topology.lab_id(layout)}")
        kind, blob = key.with_suffix(".pub").read_text().split()[:2]
        names = [host.name, host.address(layout), *_published(layout, host)]
        if topology.SSH_PORT != 22:  # known_hosts names a host on another port as [name]:port
            names = [f"[{name}]:{topology.SSH_PORT}" for name in names]
        known.append(f"{','.join(names)} {kind} {blob}")
        _write(key.parent / "sshd_config", _sshd_config(layout, host), 0o600)
        sbin = host.root(layout) / "sbin"
        sbin.mkdir(parents=True, exist_ok=True)
        _write(sbin / "lab-service", _lab_service(layout, host), 0o755)
    over = nested.placed(layout)
    if over and known_hosts(over).exists():
        # The overcloud's hosts, reached with this lab's ssh settings too (its config is included below).
        known += known_hosts(over).read_text().splitlines()
    _write(known_hosts(layout), "\n".join(known) + "\n", 0o644)
    _write(config_file(layout), client_config(layout), 0o644)
    return f"{len(known)} hosts in {known_hosts(layout)}"


def client_config(layout: Layout) -> str:
    """The ssh_config of a runner: `ssh -F <state>/ssh/config kvm-1`."""
    names = " ".join(host.name for host in TOPOLOGY.hosts)
    lines = [
        "# Written by the stackproof lab: ssh -F <this file> <host>. Host keys are verified against the",
        "# known_hosts the lab wrote; no host is ever trusted on first use.",
        f"Host {names}",
        "    User root",
        f"    IdentityFile {identity_file(layout)}",
        "    IdentitiesOnly yes",
        f"    UserKnownHostsFile {known_hosts(layout)}",
        "    GlobalKnownHostsFile /dev/null",
        "    StrictHostKeyChecking yes",
        "    BatchMode yes",
        "    ConnectTimeout 5",
        f"    ControlPath {layout.ssh}/cm-%C",
    ]
    controller = TOPOLOGY.get(topology.CONTROLLER)
    for host in TOPOLOGY.hosts:
        lines += [f"Host {host.name}", f"    HostName {[*_published(layout, host), host.address(layout)][0]}"]
        if topology.SSH_PORT != 22:
            lines.append(f"    Port {topology.SSH_PORT}")
        if layout.published and host is not controller:
            # A nested lab's hosts are on the undercloud's tenant network: reached through the controller,
            # the one published on a floating IP (a jump host, as operators reach a nested cloud's nodes).
            lines.append(f"    ProxyJump {controller.name}")
    over = nested.placed(layout)
    if over and config_file(over).exists():
        lines += ["# The overcloud's hosts (python -m stackproof_lab up --nested)", "Host *",
                  f"Include {config_file(over)}"]
    return "\n".join(lines) + "\n"


def _published(layout: Layout, host: Host) -> list[str]:
    """The controller's published address, for a lab that publishes one."""
    return [layout.published] if layout.published and host.name == topology.CONTROLLER else []


def _write(path: Path, text: str, mode: int) -> None:
    try:
        if path.read_text() == text:
            path.chmod(mode)
            return
    except FileNotFoundError:
        pass
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)
