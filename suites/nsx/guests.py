"""Servers as a user reaches them: a key pair of the run's own, floating IPs behind a router on the external network,
and a login to the guest over SSH (testinfra's ssh backend, every command through the engine's guard)."""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import testinfra

from stackproof import host_commands
from stackproof.findings import expect
from stackproof.waiting import WaitTimeout, wait_for

SSH_CONNECT_SECONDS = 5


@dataclass(frozen=True)
class GuestKey:
    name: str  # the key pair's name in nova
    private: Path  # the private key, in a folder of this check's own that goes when the check ends


@contextmanager
def guest_key(resources: Any, hint: str, *, entry: str | None = None) -> Iterator[GuestKey]:
    """A key pair made for this check: generated here (nova makes none since microversion 2.92), the public half
    imported into nova (registered for cleanup), the private half in a temporary folder, never in the reports.
    `entry`: the clouds.yaml entry of another cloud than the one under test (an overcloud)."""
    with tempfile.TemporaryDirectory(prefix="sp-guest-key-") as folder:
        private = Path(folder) / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", hint, "-f", str(private)], check=True,
                       capture_output=True, timeout=30)
        keypair = resources.create("keypair", cloud=entry, hint=hint,
                                   public_key=(Path(folder) / "id_ed25519.pub").read_text())
        yield GuestKey(keypair.name, private)


def require_floating_ips(cloud: Any) -> None:
    if "router" not in {extension.alias for extension in cloud.network.extensions()}:
        pytest.skip("the runner reaches instances through floating IPs, and the cloud has no router "
                    "extension (no routers, no floating IPs)")


def external_network(cloud: Any, designed: str | None, design_key: str = "architecture.nsx.external_network") -> Any:
    externals = list(cloud.network.networks(is_router_external=True))
    if designed:
        found = [n for n in externals if designed in (n.name, n.id)]
        expect(bool(found), f"the designed external network {designed} does not exist", expected=f"an external "
               f"network {designed}", found=[n.name for n in externals] or "none", where="network API")
        return found[0]
    if len(externals) != 1:
        pytest.skip(f"the runner reaches instances through floating IPs of the cloud's one external "
                    f"network, and it has {len(externals)} ({', '.join(n.name for n in externals) or 'none'}); name "
                    f"one in {design_key}")
    return externals[0]


def floating_ips(cloud: Any, resources: Any, nsx_design: Any, network: Any, ports: dict[str, Any],
                 hint: str) -> dict[str, str]:
    """A router from `network` to the external network and a floating IP for each port: {key: address}."""
    return floating_ips_through(cloud, resources, external_network(cloud, nsx_design.external_network), network,
                                ports, hint)


def floating_ips_through(cloud: Any, resources: Any, external: Any, network: Any, ports: dict[str, Any], hint: str,
                         *, entry: str | None = None) -> dict[str, str]:
    """floating_ips() through a given external network, in the cloud of clouds.yaml entry `entry` (default: the
    cloud under test)."""
    subnet = next(iter(cloud.network.subnets(network_id=network.id)))
    router = resources.create("router", cloud=entry, hint=f"{hint}-router",
                              external_gateway_info={"network_id": external.id})
    cloud.network.add_interface_to_router(router, subnet_id=subnet.id)
    return {key: resources.create("floating_ip", cloud=entry, floating_network_id=external.id,
                                  port_id=port.id).floating_ip_address
            for key, port in ports.items()}


def login(address: str, user: str, key: GuestKey, seconds: float, what: str) -> Any:
    """The guest at `address` as a testinfra host, once it accepts the key (bounded by `seconds`).

    The guest's host key cannot be known before the run booted it: the first one it shows is kept in a known_hosts
    of this check's own (next to the key) and held to for every later command."""
    known_hosts = key.private.parent / "known_hosts"
    host = host_commands.guard(testinfra.get_host(
        f"ssh://{user}@{address}", ssh_identity_file=str(key.private),
        ssh_extra_args=f"-o UserKnownHostsFile={shlex.quote(str(known_hosts))} -o StrictHostKeyChecking=accept-new "
                       f"-o ConnectTimeout={SSH_CONNECT_SECONDS} -o BatchMode=yes"))
    def attempt() -> tuple[int, str]:
        try:
            result = host.run("true")
        except RuntimeError as exc:  # testinfra's ssh backend raises when ssh itself fails (exit 255)
            failed = exc.args[0] if exc.args else None  # the CommandResult: say what ssh said, not its repr
            return 255, (getattr(failed, "stderr", None) or str(exc)).strip()[-200:]
        return result.rc, result.stderr.strip()[-200:]

    try:
        wait_for(attempt, until=lambda outcome: outcome[0] == 0, timeout=seconds, interval=2, description=what,
                 state=lambda outcome: f"exit {outcome[0]}: {outcome[1]}")
    except WaitTimeout as exc:
        expect(False, what, expected=f"an ssh login as {user} with the server's key pair within {seconds:g} s",
               found=str(exc), where=f"floating IP {address}")
    return host
