"""OpenStack connections built from the target's clouds.yaml entries, guarded and recorded.

Every connection's HTTP session carries the safety adapter (tier enforcement and the API record). Credentials
found in clouds.yaml/secure.yaml are registered as secrets so they are masked wherever they would be written.
Problems reaching a cloud become one line naming the cloud and the endpoint.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import openstack
import openstack.config
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as os_exc

from stackproof import secrets
from stackproof.errors import ConnectError
from stackproof.safety import guard
from stackproof.target import Target

# Service types the engine probes and reports versions for, when the catalogue has them.
PROBED_SERVICES = ("identity", "compute", "image", "network", "block-storage", "placement")

log = logging.getLogger(__name__)


def _config(target: Target) -> openstack.config.OpenStackConfig:
    files = [str(target.clouds_yaml)] if target.clouds_yaml else None
    secure = [str(target.secure_yaml)] if target.secure_yaml else None
    try:
        return openstack.config.OpenStackConfig(config_files=files, secure_files=secure)
    except Exception as exc:  # a broken clouds.yaml: one line, not a traceback
        raise ConnectError(f"cannot read clouds.yaml ({files or 'default locations'}): {exc}") from None


def connect(target: Target, entry: str) -> openstack.connection.Connection:
    """A guarded connection to the clouds.yaml entry `entry`; no request is sent yet."""
    config = _config(target)
    try:
        region = config.get_one(cloud=entry)
    except os_exc.ConfigException as exc:
        where = target.clouds_yaml or "the default clouds.yaml locations"
        raise ConnectError(f"cloud {entry!r}: no such entry in {where} ({exc})") from None
    secrets.register_all(secrets.secret_values_in(region.config.get("auth", {})))
    conn = openstack.connection.Connection(config=region)
    guard(conn.session.session)
    return conn


def _auth_url(conn: openstack.connection.Connection) -> str:
    return str(conn.config.config.get("auth", {}).get("auth_url", "?"))


def probe(conn: openstack.connection.Connection, entry: str) -> dict[str, Any]:
    """Authenticate and reach every probed service endpoint; return what each reports of its version.

    Raises ConnectError with one line naming the cloud and the endpoint at fault.
    """
    auth_url = _auth_url(conn)
    # keystoneauth logs its own warning before failing; the one line below says it all.
    ks_log = logging.getLogger("keystoneauth")
    level = ks_log.level
    ks_log.setLevel(logging.CRITICAL)
    try:
        conn.authorize()
    except Exception as exc:
        raise ConnectError(_auth_failure(entry, auth_url, exc)) from None
    finally:
        ks_log.setLevel(level)
    versions: dict[str, Any] = {}
    catalog = conn.session.auth.get_access(conn.session).service_catalog
    interface = conn.config.get_interface() or "public"
    for service_type in PROBED_SERVICES:
        try:
            url = catalog.url_for(service_type=service_type, interface=interface, region_name=conn.config.region_name)
        except ks_exc.EndpointNotFound:
            continue
        try:
            data = conn.session.get_endpoint_data(service_type=service_type, interface=interface,
                                                  region_name=conn.config.region_name)
        except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout, ks_exc.SSLError) as exc:
            raise ConnectError(f"cloud {entry!r}: cannot reach {service_type} at {url}: {_short(exc)}") from None
        except ks_exc.ClientException as exc:
            versions[service_type] = {"url": url, "error": _short(exc)}
            continue
        versions[service_type] = {
            "url": url,
            "api_version": ".".join(map(str, data.api_version)) if data and data.api_version else None,
            "max_microversion": ".".join(map(str, data.max_microversion))
            if data and data.max_microversion else None,
        }
    return versions


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes: openstacksdk wraps keystoneauth's and requests' errors."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _auth_failure(entry: str, auth_url: str, exc: BaseException) -> str:
    chain = _chain(exc)
    if any(isinstance(e, ks_exc.Unauthorized) or getattr(e, "status_code", None) == 401 for e in chain):
        return f"cloud {entry!r}: Keystone at {auth_url} refused the credentials (401): check user, password, project"
    if any(isinstance(e, ks_exc.SSLError) for e in chain):
        return f"cloud {entry!r}: TLS verification failed for {auth_url}: {_short(exc)}"
    unreachable = (ks_exc.ConnectFailure, ks_exc.ConnectTimeout, ks_exc.DiscoveryFailure, ConnectionError)
    if any(isinstance(e, unreachable) for e in chain) or "Max retries exceeded" in str(exc):
        return f"cloud {entry!r}: cannot reach Keystone at {auth_url}: connection failed"
    return f"cloud {entry!r}: authentication at {auth_url} failed: {_short(exc)}"


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return secrets.redact(text[:300])


class ConnectionPool:
    """One guarded connection per clouds.yaml entry per process, made on first use."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._connections: dict[str, openstack.connection.Connection] = {}

    def get(self, entry: str) -> openstack.connection.Connection:
        with self._lock:
            if entry not in self._connections:
                self._connections[entry] = connect(self.target, entry)
            return self._connections[entry]

    def close(self) -> None:
        with self._lock:
            for conn in self._connections.values():
                conn.close()
            self._connections.clear()
