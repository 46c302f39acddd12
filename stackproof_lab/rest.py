"""A minimal OpenStack REST client on the standard library, for the lab's own provisioning and health.

The lab runs from the suite's environment (stdlib + PyYAML), not from its OpenStack virtualenv, so it
speaks to the APIs directly. It knows its endpoints from the layout and needs no catalog.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from stackproof_lab.errors import LabError
from stackproof_lab.layout import Layout

# Microversions the provisioning code is written against.
HEADERS = {
    "compute": {"OpenStack-API-Version": "compute 2.79", "X-OpenStack-Nova-API-Version": "2.79"},
    "volume": {"OpenStack-API-Version": "volume 3.50"},
    "placement": {"OpenStack-API-Version": "placement 1.39"},
}
SERVICE_PORTS = {
    "identity": ("keystone", "/v3"),
    "compute": ("nova-api", "/v2.1"),
    "image": ("glance-api", "/v2"),
    "network": ("neutron-api", "/v2.0"),
    "volume": ("cinder-api", "/v3"),
    "placement": ("placement-api", ""),
}
TOKEN_LIFETIME = 3000  # seconds; keystone issues 4 h tokens, the lab renews well before


class Cloud:
    """An authenticated session against the lab's APIs as one user in one project."""

    def __init__(self, layout: Layout, username: str, password: str, project: str = "admin") -> None:
        self.layout = layout
        self.username = username
        self.password = password
        self.project = project
        self._token = ""
        self._token_time = 0.0
        self.project_id = ""

    def _authenticate(self) -> None:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": self.username, "password": self.password, "domain": {"id": "default"}}
                    },
                },
                "scope": {"project": {"name": self.project, "domain": {"id": "default"}}},
            }
        }
        try:
            status, headers, data = _http(
                "POST", self.layout.public_url("keystone", "/v3/auth/tokens?nocatalog"), body, {}, timeout=30
            )
        except LabError as exc:
            raise LabError(f"keystone does not answer ({exc}); is the lab up? (python -m stackproof_lab up)") from None
        if status != 201:
            raise LabError(f"keystone refused {self.username}@{self.project}: HTTP {status} {_snippet(data)}")
        self._token = headers["X-Subject-Token"]
        self._token_time = time.monotonic()
        self.project_id = json.loads(data)["token"]["project"]["id"]

    @property
    def token(self) -> str:
        if not self._token or time.monotonic() - self._token_time > TOKEN_LIFETIME:
            self._authenticate()
        return self._token

    def url(self, service: str, path: str) -> str:
        port_name, prefix = SERVICE_PORTS[service]
        if service == "volume":
            prefix = f"{prefix}/{self.project_id or self._project_id()}"
        return self.layout.public_url(port_name, prefix + path)

    def _project_id(self) -> str:
        self.token  # noqa: B018 - authenticating fills project_id
        return self.project_id

    def call(
        self,
        service: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        ok: tuple[int, ...] = (200, 201, 202, 204),
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        timeout: float = 60,
    ) -> Any:
        """One API call; returns the decoded JSON body (None when empty). LabError on other statuses."""
        all_headers = {"X-Auth-Token": self.token, **HEADERS.get(service, {}), **(headers or {})}
        status, _, data = _http(method, self.url(service, path), body, all_headers, raw=raw, timeout=timeout)
        if status not in ok:
            raise LabError(f"{service} {method} {path}: HTTP {status} {_snippet(data)}")
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return data


def _http(
    method: str,
    url: str,
    body: Any,
    headers: dict[str, str],
    *,
    raw: bytes | None = None,
    timeout: float,
) -> tuple[int, dict[str, str], bytes]:
    data = raw
    headers = dict(headers)
    if raw is not None:
        headers.setdefault("Content-Type", "application/octet-stream")
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = (
            "application/openstack-images-v2.1-json-patch" if isinstance(body, list) else "application/json"
        )
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LabError(f"{method} {url}: {reason}") from None


def probe(url: str, timeout: float = 3) -> int:
    """HTTP status of GET ``url`` (any answer counts), or 0 when nothing answers."""
    try:
        status, _, _ = _http("GET", url, None, {}, timeout=timeout)
    except LabError:
        return 0
    return status


def _snippet(data: bytes) -> str:
    text = data.decode(errors="replace").strip().replace("\n", " ")
    return text[:300]
