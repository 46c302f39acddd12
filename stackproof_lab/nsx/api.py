"""The lab's own client of its NSX manager (health, faults, provisioning): stdlib only, since the lab runs
on the suite's Python; TLS verified with the manager's CA, basic auth with the lab's password."""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from stackproof_lab.errors import LabError

POLICY = "/policy/api/v1"


class NsxApi:
    def __init__(self, url: str, user: str, password: str, ca_file: Path, timeout: float = 10) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._context = ssl.create_default_context(cafile=str(ca_file))

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One request; the decoded JSON answer (None when empty). LabError names NSX's error message."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": self._auth, "Accept": "application/json", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._context) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            with contextlib.suppress(ValueError):
                detail = json.loads(detail).get("error_message", detail)
            raise LabError(f"lab NSX manager: {method} {path}: HTTP {exc.code}: {detail[:300]}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise LabError(f"lab NSX manager at {self.url} does not answer: {exc}") from None
        return json.loads(raw) if raw else None

    def policy(self, method: str, intent_path: str, body: Any = None) -> Any:
        return self.call(method, POLICY + intent_path, body)

    def healthy(self) -> bool:
        try:
            return bool(self.call("GET", "/api/v1/reverse-proxy/node/health").get("healthy"))
        except LabError:
            return False
