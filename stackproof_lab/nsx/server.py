"""The lab NSX manager's HTTPS server: the NSX-T Policy API as the NSX plugin (through vmware-nsxlib) and
operators use it, over the state of ``model.Store``.

- ``/policy/api/v1/infra/...``: GET (objects; collections paginated with results, result_count, cursor),
  PATCH (create or merge, embedded children included), PUT (replace, ``_revision`` checked), DELETE;
- ``/policy/api/v1/infra/realized-state/realized-entities?intent_path=...``: realization;
- ``/policy/api/v1/infra/domains/<d>/groups/<g>/members/segment-ports`` and ``.../ip-addresses``: effective
  membership;
- ``/api/v1/logical-switches`` and ``/api/v1/logical-ports``: the management plane's read view of what is
  realized (the lab vCenter builds its opaque networks from it); ``/api/v1/node/version``;
  ``/api/v1/reverse-proxy/node/health``; ``POST /api/session/create`` (vmware-nsxlib's session login).

Every request needs HTTP basic auth or the session cookie that ``/api/session/create`` hands out. The user and
password come from the environment (STACKPROOF_NSX_USER / STACKPROOF_NSX_PASSWORD), never from the command
line. It listens on a loopback address, or on an address of a documentation range (RFC 5737) that the lab gives
its hosts inside their network namespaces (the controller's management address): never beyond the machine.

    python -m stackproof_lab.nsx.server --state-dir DIR --listen ADDRESS:PORT \
        --overlay-tz ID:NAME [--vlan-tz ID:NAME]
"""

from __future__ import annotations

import argparse
import base64
import hmac
import ipaddress
import json
import os
import secrets
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from stackproof_lab.nsx import tls
from stackproof_lab.nsx.model import (
    ENFORCEMENT_POINT,
    NOT_FOUND,
    Body,
    NsxError,
    Store,
    collection_kind,
    kind_of,
    split,
)

USER_ENV, PASSWORD_ENV = "STACKPROOF_NSX_USER", "STACKPROOF_NSX_PASSWORD"
POLICY = "/policy/api/v1"
VERSION = "3.2.3.0.0.21703624"  # an NSX-T 3.2 manager: the Policy API vmware-nsxlib 19 speaks in full
PAGE_SIZE = 1000  # NSX's default and maximum page size
ENDPOINT_FILE = "nsx.json"
DOCUMENTATION_RANGES = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
STATE_FILE = "state.json"


def bootstrap(overlay_tz: tuple[str, str], vlan_tz: tuple[str, str] | None) -> list[tuple[str, Body]]:
    """What a fresh NSX-T manager with one overlay transport zone already has (system-owned)."""
    objects: list[tuple[str, Body]] = [
        ("/infra/sites/default", {"display_name": "default"}),
        (ENFORCEMENT_POINT, {"display_name": "default",
                             "connection_info": {"resource_type": "NSXTConnectionInfo"}}),
        ("/infra/domains/default", {"display_name": "default"}),
    ]
    # System services that policies refer to by id (nsx_p's default section allows DHCP with them).
    for ident, port in (("DHCP-Client", "68"), ("DHCP-Server", "67")):
        objects.append((f"/infra/services/{ident}", {
            "display_name": ident, "service_type": "NON_ETHER", "is_default": True,
            "service_entries": [{"id": ident, "resource_type": "L4PortSetServiceEntry", "l4_protocol": "UDP",
                                 "destination_ports": [port], "source_ports": []}]}))
    tz_id, tz_name = overlay_tz
    objects.append((f"{ENFORCEMENT_POINT}/transport-zones/{tz_id}",
                    {"display_name": tz_name, "tz_type": "OVERLAY_STANDARD", "is_default": True,
                     "nested_nsx": False}))
    if vlan_tz:
        objects.append((f"{ENFORCEMENT_POINT}/transport-zones/{vlan_tz[0]}",
                        {"display_name": vlan_tz[1], "tz_type": "VLAN_BACKED", "is_default": True,
                         "nested_nsx": False}))
    return objects


def page(items: list[Any], query: dict[str, list[str]]) -> Body:
    """One page of a list result: results, result_count (all of them), and a cursor while more follow."""
    try:
        start = int(query.get("cursor", ["0"])[0] or 0)
        size = min(int(query.get("page_size", [str(PAGE_SIZE)])[0]), PAGE_SIZE)
    except ValueError:
        raise NsxError(400, "cursor and page_size must be numbers", 500012) from None
    size = max(size, 1)
    result: Body = {"results": items[start:start + size], "result_count": len(items),
                    "sort_ascending": True, "sort_by": "path"}
    if start + size < len(items):
        result["cursor"] = str(start + size)  # opaque to clients; never starts with nsxlib's null "0000"
    return result


class Manager:
    def __init__(self, store: Store, user: str, password: str) -> None:
        self.store, self.user, self.password = store, user, password
        self.sessions: dict[str, str] = {}  # JSESSIONID -> XSRF token
        self._lock = threading.Lock()

    def credentials_ok(self, user: str, password: str) -> bool:
        return hmac.compare_digest(user.encode(), self.user.encode()) and hmac.compare_digest(
            password.encode(), self.password.encode())

    def new_session(self) -> tuple[str, str]:
        session, xsrf = secrets.token_hex(16), secrets.token_urlsafe(24)
        with self._lock:
            self.sessions[session] = xsrf
        return session, xsrf

    def has_session(self, session: str) -> bool:
        with self._lock:
            return session in self.sessions


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that fails the TLS handshake (it does not trust the lab CA) or drops the connection: one line.
        error = sys.exc_info()[1]
        sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} connection from {client_address[0]}:"
                         f"{client_address[1]} ended: {type(error).__name__}: {error}\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "NSX"
    manager: Manager
    timeout = 120  # idle keep-alive connections give their thread back

    # --- plumbing ----------------------------------------------------------------------------------

    def log_message(self, fmt: str, *args: Any) -> None:  # one line per request, no bodies
        sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {fmt % args}\n")

    def log_error(self, fmt: str, *args: Any) -> None:
        if not fmt.startswith("Request timed out"):  # an idle keep-alive connection closed: not news
            self.log_message(fmt, *args)

    def _reply(self, status: int, body: Body | None = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise NsxError(400, "the request body is not valid JSON", 500012) from None

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return self.manager.credentials_ok(user, password)
        for cookie in self.headers.get("Cookie", "").split(";"):
            name, _, value = cookie.strip().partition("=")
            if name == "JSESSIONID" and self.manager.has_session(value):
                return True
        return False

    def _handle(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path.rstrip("/") or "/", urllib.parse.parse_qs(url.query)
        try:
            if method == "POST" and path == "/api/session/create":
                self._session_create()
                return
            if not self._authorized():
                raise NsxError(403, "The credentials were incorrect or the account specified has been locked.", 403)
            status, body = self._route(method, path, query)
        except NsxError as exc:
            self._reply(exc.status, exc.body())
            return
        except Exception as exc:  # a bug here must show as one error answer and in the log, not kill the thread
            self.log_message("internal error on %s %s: %s: %s", method, path, type(exc).__name__, exc)
            self._reply(500, NsxError(500, f"internal error: {type(exc).__name__}", 99).body())
            return
        self._reply(status, body)

    def _session_create(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode() if length else "")
        if not self.manager.credentials_ok(form.get("j_username", [""])[0], form.get("j_password", [""])[0]):
            raise NsxError(403, "The credentials were incorrect or the account specified has been locked.", 403)
        session, xsrf = self.manager.new_session()
        self._reply(200, None, {"Set-Cookie": f"JSESSIONID={session}; Path=/; Secure; HttpOnly",
                                "X-XSRF-TOKEN": xsrf})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_POST(self) -> None:
        self._handle("POST")

    # --- the API -----------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, Body | None]:
        store = self.manager.store
        if path.startswith("/api/v1/"):
            if method != "GET":
                raise NsxError(400, f"the lab NSX manager's management plane API is read-only ({method} {path})", 99)
            return 200, self._management(path.removeprefix("/api/v1"), query)
        if not path.startswith(POLICY + "/infra"):
            raise NsxError(404, f"{path} is not part of the NSX API", NOT_FOUND)
        intent = path.removeprefix(POLICY)
        if intent == "/infra":
            return 200, {"resource_type": "Infra", "id": "infra", "path": "/infra", "display_name": "infra"}
        if intent == "/infra/realized-state/realized-entities":
            if method != "GET":
                raise NsxError(400, "realized state is read-only", 500012)
            intent_path = query.get("intent_path", [""])[0]
            return 200, page(store.realized(intent_path), query)
        parts = split(intent)
        if len(parts) >= 6 and parts[-2] == "members" and parts[1] == "domains":
            group = "/" + "/".join(parts[:-2])
            ports, addresses = store.members(group)
            if parts[-1] == "segment-ports":
                return 200, page([{"path": p, "id": split(p)[-1], "display_name": store.get(p).get("display_name")}
                                  for p in ports], query)
            if parts[-1] == "ip-addresses":
                return 200, page(addresses, query)
            raise NsxError(404, f"{path}: unknown member type {parts[-1]}", NOT_FOUND)
        if method == "GET":
            if kind_of(intent) is not None:
                return 200, store.get(intent)
            if collection_kind(intent) is not None:
                return 200, page(store.list(intent), query)
            raise NsxError(404, f"The path={intent} is invalid", NOT_FOUND)
        if method in ("PATCH", "PUT"):
            body = self._body()
            if not isinstance(body, dict):
                raise NsxError(400, "the request body must be a JSON object", 500012)
            store.patch(intent, body, replace=method == "PUT")
            return 200, store.get(intent) if method == "PUT" else None
        if method == "DELETE":
            store.delete(intent)
            return 200, None
        raise NsxError(400, f"{method} is not supported on {intent}", 500012)

    def _management(self, path: str, query: dict[str, list[str]]) -> Body:
        store = self.manager.store
        if path == "/reverse-proxy/node/health":
            return {"healthy": True}
        if path == "/node/version":
            return {"node_version": VERSION, "product_version": VERSION}
        if path == "/lab/vif-firewall":  # the lab's stand-in for the control plane's push to its nodes
            return page(store.vif_firewall(), query)
        for collection, items in (("/logical-switches", store.logical_switches),
                                  ("/logical-ports", store.logical_ports)):
            if path == collection:
                return page(items(), query)
            if path.startswith(collection + "/"):
                wanted = path.removeprefix(collection + "/")
                found = next((item for item in items() if item["id"] == wanted), None)
                if found is None:
                    raise NsxError(404, f"{collection[1:-1].replace('-', ' ')} {wanted} not found", 600)
                return found
        raise NsxError(404, f"/api/v1{path} is not served by the lab NSX manager", NOT_FOUND)


def _parse_tz(value: str) -> tuple[str, str]:
    ident, _, name = value.partition(":")
    if not ident or not name:
        raise argparse.ArgumentTypeError(f"{value!r}: expected ID:NAME")
    return ident, name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackproof_lab.nsx.server", description=__doc__.split("\n")[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--listen", required=True, help="address:port (loopback or RFC 5737)")
    parser.add_argument("--overlay-tz", type=_parse_tz, required=True, metavar="ID:NAME")
    parser.add_argument("--vlan-tz", type=_parse_tz, metavar="ID:NAME")
    parser.add_argument("--published", type=ipaddress.ip_address, action="append", default=[], metavar="ADDRESS",
                        help="another address clients reach it on (a floating IP): its certificate names it too")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        parser.error(f"--listen {args.listen}: not an IP address:port")
    if not (address.is_loopback or any(address in net for net in DOCUMENTATION_RANGES)):
        parser.error(f"--listen {args.listen}: only a loopback or RFC 5737 address is allowed")
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if not user or not password:
        parser.error(f"set {USER_ENV} and {PASSWORD_ENV} in the environment")
    state_dir = args.state_dir.resolve()
    endpoint = state_dir / ENDPOINT_FILE
    endpoint.unlink(missing_ok=True)  # a stale one would tell the lab a dead server is up
    ca_file, cert_file, key_file = tls.ensure(state_dir, address, *args.published)
    store = Store(state_dir / STATE_FILE, bootstrap(args.overlay_tz, args.vlan_tz))
    Handler.manager = Manager(store, user, password)
    server = Server((host, int(port)), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    # The handshake happens in the connection's own thread (on its first read), so a slow client never holds
    # up accept().
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    tmp = endpoint.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": f"https://{host}:{port}", "port": int(port), "ca_file": str(ca_file),
                               "pid": os.getpid(), "version": VERSION}, indent=2))
    os.replace(tmp, endpoint)
    sys.stderr.write(f"lab NSX manager {VERSION} ready on https://{host}:{port} ({len(store.objects)} objects, "
                     f"CA {ca_file})\n")
    try:
        server.serve_forever()
    finally:
        endpoint.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
