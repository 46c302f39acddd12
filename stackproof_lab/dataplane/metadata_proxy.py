"""The edge's metadata proxy for one network: what a guest reaches at http://169.254.169.254, as on a real cloud.

A guest learns the route to 169.254.169.254 from DHCP (the network's DHCP server, its next hop) and asks for its
metadata there. This proxy, listening in the network's DHCP namespace on the edge, finds which instance asks (the
Neutron port of the network with the request's source address, as neutron's metadata agent does) and forwards
the request to nova's metadata API with the instance's id, its project and their signature (HMAC-SHA256 with the
shared secret nova.conf's ``[neutron] metadata_proxy_shared_secret`` holds). Nova answers; the guest gets its
key pair, user data, everything cloud-init reads.

    python -m stackproof_lab.dataplane.metadata_proxy --config /etc/nsx/node-agent.ini \
        --namespace qdhcp-<network> --network <network> --pid-file <file>

It starts in the edge's own network namespace (where Neutron and nova answer) and opens only its listening
socket in the DHCP namespace: a socket stays in the namespace it was made in.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import hmac
import logging
import os
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from stackproof_lab import passwords
from stackproof_lab.configs import dataplane as dataplane_config
from stackproof_lab.errors import LabError
from stackproof_lab.rest import Cloud

LOG = logging.getLogger("metadata-proxy")
METADATA_ADDRESS = "169.254.169.254"
CLONE_NEWNET = 0x40000000
UPSTREAM_TIMEOUT = 30.0  # seconds nova's metadata API may take to build an instance's metadata
COMPUTE_OWNER = "compute:"


def listen_in(namespace: str, address: tuple[str, int]) -> socket.socket:
    """A listening TCP socket made inside network namespace ``namespace`` (by its /run/netns name); the caller
    stays in its own namespace. Call it before starting any thread: setns switches the calling thread only."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {namespace}")
        try:
            return socket.create_server(address)
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


def signature(secret: str, instance_id: str) -> str:
    """What nova's metadata handler checks X-Instance-ID-Signature against (handler._validate_shared_secret)."""
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


class Proxy:
    """Finds the asking instance on its network and forwards its request to nova, signed."""

    def __init__(self, neutron: Cloud, network_id: str, upstream: str, secret: str) -> None:
        self.neutron, self.network_id, self.upstream, self.secret = neutron, network_id, upstream, secret
        self._lock = threading.Lock()  # one Keystone session, not made for concurrent re-authentication

    def instance(self, address: str) -> tuple[str, str] | None:
        """(server id, project id) of the instance port of this network that holds ``address``; None: none does."""
        query = urllib.parse.urlencode({"network_id": self.network_id, "fixed_ips": f"ip_address={address}"})
        with self._lock:
            ports = (self.neutron.call("network", "GET", f"/ports?{query}") or {}).get("ports") or []
        owners = [(p["device_id"], p.get("project_id") or p.get("tenant_id") or "") for p in ports
                  if (p.get("device_owner") or "").startswith(COMPUTE_OWNER) and p.get("device_id")]
        return owners[0] if len(owners) == 1 else None

    def forward(self, path: str, address: str, instance_id: str, project_id: str) -> tuple[int, str, bytes]:
        request = urllib.request.Request(self.upstream + path, headers={
            "X-Forwarded-For": address, "X-Instance-ID": instance_id, "X-Tenant-ID": project_id,
            "X-Instance-ID-Signature": signature(self.secret, instance_id)})
        try:
            with urllib.request.urlopen(request, timeout=UPSTREAM_TIMEOUT) as answer:
                return answer.status, answer.headers.get("Content-Type", "text/plain"), answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", "text/plain"), exc.read()


def handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server calls it by this name
            address = self.client_address[0]
            try:
                owner = proxy.instance(address)
                if owner is None:
                    # Not 404: a guest reads 404 as "no such metadata" and stops asking.
                    self._answer(403, "text/plain", f"no instance port of this network has {address}\n".encode())
                    return
                self._answer(*proxy.forward(self.path, address, *owner))
            except (LabError, OSError) as exc:
                LOG.warning("%s %s: %s", address, self.path, exc)
                self._answer(503, "text/plain", b"metadata service unavailable\n")

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: object) -> None:
            LOG.info("%s %s", self.client_address[0], fmt % args)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackproof_lab.dataplane.metadata_proxy",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="the node agent's config")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--network", required=True)
    parser.add_argument("--pid-file", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    loaded = dataplane_config.load(args.config)
    if loaded is None:
        print(f"metadata-proxy: cannot read {args.config}", file=sys.stderr)
        return 2
    conf, layout = loaded
    secrets = passwords.load(layout)
    try:
        listener = listen_in(args.namespace, (METADATA_ADDRESS, 80))
    except OSError as exc:
        print(f"metadata-proxy: cannot listen on {METADATA_ADDRESS}:80 in {args.namespace}: {exc}", file=sys.stderr)
        return 1
    proxy = Proxy(Cloud(layout, "admin", secrets["admin"]), args.network, conf["metadata"]["url"].rstrip("/"),
                  secrets["metadata"])
    server = ThreadingHTTPServer((METADATA_ADDRESS, 80), handler(proxy), bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    server.daemon_threads = True
    args.pid_file.write_text(f"{os.getpid()}\n")
    LOG.info("network %s: %s:80 in %s -> %s", args.network, METADATA_ADDRESS, args.namespace, proxy.upstream)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
