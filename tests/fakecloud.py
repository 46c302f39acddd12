"""A small local HTTP server that plays just enough of Keystone, Nova, Cinder and Neutron for the engine's
own tests to drive real openstacksdk against it: authentication (with a real 401 for a wrong password),
version discovery, and create/get/list/delete of servers, volumes and networks.

Deletion takes effect after a configurable number of reads, so that the ledger's wait-for-deletion is
exercised, and every request is recorded (method, path) so tests can assert order and absence of writes.
Each authentication gets a token of its own (as Keystone's are), recorded with the user it belongs to; the
reader account's tokens are refused every write with a 403, as a cloud with a reader role would.
Runnable on its own (``python tests/fakecloud.py PORT DIR``) for subprocess-based tests.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

PROJECT_ID = "f0000000000000000000000000000001"
USER = "sp-admin"
READER = "sp-reader"
# Long and unusual on purpose: the secret-scanning test greps report files for these exact strings.
PASSWORD = "Pw-0nly-In-Clouds-Yaml-7f3c9a"
READER_PASSWORD = "Rd-0nly-In-Clouds-Yaml-2b8e4d"
USERS = {USER: PASSWORD, READER: READER_PASSWORD}

UNAUTHORIZED = {"error": {"code": 401, "title": "Unauthorized",
                          "message": "The request you have made requires authentication."}}

COLLECTIONS = {
    # service prefix, collection path, JSON key (singular, plural)
    "servers": ("compute/v2.1", "servers", "server", "servers"),
    "volumes": (f"volume/v3/{PROJECT_ID}", "volumes", "volume", "volumes"),
    "networks": ("network/v2.0", "networks", "network", "networks"),
}


class FakeCloud:
    def __init__(self, delete_after_reads: int = 1, port: int = 0) -> None:
        self.delete_after_reads = delete_after_reads
        self.requests: list[tuple[str, str]] = []
        # every token handed out -> its user, and (method, path, user) of every authenticated request
        self.tokens: dict[str, str] = {}
        self.requests_by_user: list[tuple[str, str, str]] = []
        # collections whose listing answers 500, as a broken API would
        self.failing_listings: set[str] = set()
        self.store: dict[str, dict[str, dict]] = {name: {} for name in COLLECTIONS}
        self._deleting: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeCloud:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m not in ("GET", "HEAD") and not p.endswith("/auth/tokens")]

    def entry(self, user: str = USER, password: str = PASSWORD) -> dict:
        """A clouds.yaml entry for this cloud."""
        return {
            "auth": {"auth_url": f"{self.url}/identity/v3", "username": user, "password": password,
                     "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"},
            "region_name": "RegionOne", "identity_api_version": 3, "interface": "public",
        }

    def clouds_yaml(self, path: Path, password: str = PASSWORD, name: str = "fake", **more: dict) -> Path:
        """clouds.yaml with the admin entry `name` and any `more` entries (name -> entry())."""
        path.write_text(yaml.safe_dump({"clouds": {name: self.entry(password=password)} | more}))
        return path

    # -- HTTP ------------------------------------------------------------------------------------------
    def _handler(self):
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: object = None, headers: dict | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-openstack-request-id", f"req-{uuid.uuid4()}")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}") if length else {}

            def do_GET(self) -> None:
                cloud._route(self, "GET")

            def do_HEAD(self) -> None:
                cloud._route(self, "HEAD")

            def do_POST(self) -> None:
                cloud._route(self, "POST")

            def do_PUT(self) -> None:
                cloud._route(self, "PUT")

            def do_DELETE(self) -> None:
                cloud._route(self, "DELETE")

        return Handler

    def _catalog(self) -> list[dict]:
        def entry(service_type: str, name: str, path: str) -> dict:
            return {"type": service_type, "name": name, "id": uuid.uuid4().hex, "endpoints": [
                {"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "id": uuid.uuid4().hex,
                 "url": f"{self.url}/{path}"}]}

        return [
            entry("identity", "keystone", "identity/v3"),
            entry("compute", "nova", "compute/v2.1"),
            entry("block-storage", "cinderv3", f"volume/v3/{PROJECT_ID}"),
            entry("network", "neutron", "network"),
        ]

    def _versions(self, path: str):
        base = self.url
        docs = {
            "identity": {"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": f"{base}/identity/v3/"}]},
            "compute": {"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1",
                        "links": [{"rel": "self", "href": f"{base}/compute/v2.1/"}]},
            "volume": {"id": "v3.0", "status": "CURRENT", "version": "3.70", "min_version": "3.0",
                       "links": [{"rel": "self", "href": f"{base}/volume/v3/"}]},
            "network": {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": f"{base}/network/v2.0/"}]},
        }
        parts = path.strip("/").split("/")
        service = parts[0]
        if service not in docs:
            return None
        if len(parts) == 1:
            if service == "identity":
                return {"versions": {"values": [docs[service]]}}
            return {"versions": [docs[service]]}
        if len(parts) == 2 or (service == "volume" and len(parts) == 3 and parts[2] == PROJECT_ID):
            return {"version": docs[service]}
        return None

    def _route(self, handler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = parts.path.rstrip("/")
        with self._lock:
            self.requests.append((method, path))
        body = handler._body() if method in ("POST", "PUT") else {}
        if method == "POST" and path == "/identity/v3/auth/tokens":
            return self._token(handler, body)
        if method in ("GET", "HEAD"):
            doc = self._versions(path)
            if doc is not None:
                return handler._send(200, doc)
        user = self.tokens.get(handler.headers.get("X-Auth-Token") or "")
        if user is None:
            return handler._send(401, UNAUTHORIZED)
        with self._lock:
            self.requests_by_user.append((method, path, user))
        if user == READER and method not in ("GET", "HEAD"):
            return handler._send(403, {"error": {"code": 403, "title": "Forbidden",
                                                 "message": "the reader role may not change anything"}})
        for name, (prefix, collection, single, plural) in COLLECTIONS.items():
            root = f"/{prefix}/{collection}"
            if path in (root, root + "/detail"):
                if method == "POST":
                    return self._create(handler, name, body.get(single, {}), single)
                if method == "GET" and name in self.failing_listings:
                    return handler._send(500, {"error": {"code": 500, "message": f"listing {name} failed"}})
                if method == "GET":
                    return handler._send(200, {plural: self._list(name, parse_qs(parts.query))})
            match = re.fullmatch(re.escape(root) + r"/([^/]+)", path)
            if match:
                item_id = match.group(1)
                if method == "GET":
                    item = self._get(name, item_id)
                    if item is None:
                        return handler._send(404, {"itemNotFound": {"code": 404, "message": "not found"}})
                    return handler._send(200, {single: item})
                if method == "DELETE":
                    if item_id not in self.store[name]:
                        return handler._send(404, {"itemNotFound": {"code": 404, "message": "not found"}})
                    status = self.store[name][item_id].get("status")
                    forced = parse_qs(parts.query).get("force", ["false"])[0].lower() == "true"
                    if name == "volumes" and status not in ("available", "error", "error_restoring") and not forced:
                        # as cinder: a volume stuck mid-operation refuses a delete unless an admin forces it
                        return handler._send(400, {"badRequest": {"code": 400, "message": (
                            f"Invalid volume: Volume status must be available or error, but current status is: "
                            f"{status}.")}})
                    with self._lock:
                        self._deleting[item_id] = self.delete_after_reads
                    return handler._send(204)
        return handler._send(404, {"error": {"code": 404, "message": f"fake cloud has no {method} {path}"}})

    def _token(self, handler, body: dict) -> None:
        user = body.get("auth", {}).get("identity", {}).get("password", {}).get("user", {})
        name, password = user.get("name"), user.get("password")
        if name not in USERS or password != USERS[name]:
            return handler._send(401, UNAUTHORIZED)
        issued = f"gAAAAA-fake-token-{uuid.uuid4().hex}"
        with self._lock:
            self.tokens[issued] = name
        token = {"token": {
            "methods": ["password"],
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2026-01-01T00:00:00.000000Z",
            "user": {"id": name, "name": name, "domain": {"id": "default", "name": "Default"}},
            "project": {"id": PROJECT_ID, "name": "admin", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r1", "name": "admin" if name == USER else "reader"}], "catalog": self._catalog(),
        }}
        return handler._send(201, token, {"X-Subject-Token": issued})

    def _create(self, handler, name: str, attrs: dict, single: str) -> None:
        item_id = str(uuid.UUID(int=next(self._ids)))
        item = {"id": item_id, "name": attrs.get("name"), "status": "ACTIVE" if name == "servers" else "available"}
        if name == "networks":
            item["status"] = "ACTIVE"
        item.update({k: v for k, v in attrs.items() if isinstance(v, str | int | bool)})
        with self._lock:
            self.store[name][item_id] = item
        return handler._send(202 if name == "servers" else 201, {single: item})

    def _get(self, name: str, item_id: str):
        with self._lock:
            item = self.store[name].get(item_id)
            if item is None:
                return None
            if item_id in self._deleting:
                self._deleting[item_id] -= 1
                if self._deleting[item_id] < 0:
                    del self.store[name][item_id]
                    del self._deleting[item_id]
                    return None
            return dict(item)

    def _list(self, name: str, query: dict) -> list[dict]:
        with self._lock:
            items = [dict(v) for k, v in self.store[name].items() if k not in self._deleting]
        wanted = query.get("name", [None])[0]
        return [i for i in items if wanted is None or i.get("name") == wanted]


if __name__ == "__main__":
    fake = FakeCloud(port=int(sys.argv[1])).start()
    Path(sys.argv[2]).mkdir(parents=True, exist_ok=True)
    fake.clouds_yaml(Path(sys.argv[2]) / "clouds.yaml")
    (Path(sys.argv[2]) / "ready").write_text(fake.url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
