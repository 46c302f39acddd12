"""OpenStack connections built from the target's clouds.yaml entries, guarded and recorded.

Every connection's HTTP session carries the safety adapter (tier enforcement and the API record). Credentials
found in clouds.yaml/secure.yaml are registered as secrets so they are masked wherever they would be written.
Problems reaching a cloud become one line naming the cloud and the endpoint.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import openstack
import openstack.config
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as os_exc

from stackproof import secrets
from stackproof.errors import ConnectError
from stackproof.safety import guard
from stackproof.target import Target, read_yaml_mapping

# Service types the engine probes and reports versions for, when the catalogue has them.
PROBED_SERVICES = ("identity", "compute", "image", "network", "block-storage", "placement")

log = logging.getLogger(__name__)


def _config(target: Target) -> openstack.config.OpenStackConfig:
    """openstacksdk's configuration for the target's clouds.

    When the target names its clouds.yaml, that file (and the secure.yaml beside it or named by the target) is
    the only one read: openstacksdk would otherwise put $OS_CLIENT_CONFIG_FILE first and let OS_* variables
    override entries, so that a run could reach a cloud other than the one the target (and --allow-disruptive)
    names. A target without clouds_yaml takes openstacksdk's usual search, environment included.
    """
    if target.clouds_yaml is None:
        try:
            return openstacksdk_config(None, None, from_environment=True)
        except Exception as exc:
            raise ConnectError(f"cannot read clouds.yaml (default locations): {_short(exc)}") from None
    files = [target.clouds_yaml] + ([target.secure_yaml] if target.secure_yaml else [])
    for path in files:
        read_yaml_mapping(path)  # a YAML syntax error is one line with its place, not "no such entry"
    try:
        return openstacksdk_config(target.clouds_yaml, target.secure_yaml, from_environment=False)
    except Exception as exc:
        raise ConnectError(f"cannot read {target.clouds_yaml}: {_short(exc)}") from None


def openstacksdk_config(clouds_yaml: Path | None, secure_yaml: Path | None,
                        from_environment: bool) -> openstack.config.OpenStackConfig:
    return openstack.config.OpenStackConfig(
        config_files=[str(clouds_yaml)] if clouds_yaml else None,
        secure_files=[str(secure_yaml)] if secure_yaml else None,
        load_envvars=from_environment,
    )


def clouds_file(target: Target) -> str | None:
    """The clouds.yaml the target's connections are read from."""
    return str(target.clouds_yaml) if target.clouds_yaml else _config(target).config_filename


def region_of(target: Target, entry: str) -> openstack.config.cloud_region.CloudRegion:
    """The clouds.yaml entry `entry`, resolved offline (no request is sent); ConnectError when it is unusable."""
    config = _config(target)
    where = target.clouds_yaml or config.config_filename or "the default clouds.yaml locations"
    try:
        region = config.get_one(cloud=entry)
    except os_exc.ConfigException as exc:
        raise ConnectError(f"cloud {entry!r}: no such entry in {where} ({_short(exc)})") from None
    for key in ("cacert", "cert", "key"):
        value = region.config.get(key)
        if isinstance(value, str) and value and not Path(value).is_file():
            raise ConnectError(f"cloud {entry!r}: {key} file not found: {value} (named in {where})")
    return region


def connect(target: Target, entry: str) -> openstack.connection.Connection:
    """A guarded connection to the clouds.yaml entry `entry`; no request is sent yet."""
    region = region_of(target, entry)
    secrets.register_all(secrets.secret_values_in(region.config.get("auth", {})))
    conn = openstack.connection.Connection(config=region)
    guard(conn.session.session)
    return conn


def auth_url(conn: openstack.connection.Connection) -> str:
    return str(conn.config.config.get("auth", {}).get("auth_url", "?"))


def authorize(conn: openstack.connection.Connection, entry: str) -> None:
    """Authenticate once; ConnectError with one line naming the cloud and Keystone when that fails."""
    # keystoneauth logs its own warning before failing; the one line raised here says it all.
    ks_log = logging.getLogger("keystoneauth")
    level = ks_log.level
    ks_log.setLevel(logging.CRITICAL)
    try:
        conn.authorize()
        secrets.register(conn.session.get_token())
    except Exception as exc:
        raise ConnectError(_auth_failure(entry, auth_url(conn), exc)) from None
    finally:
        ks_log.setLevel(level)


def probe(conn: openstack.connection.Connection, entry: str) -> dict[str, Any]:
    """Authenticate and reach every probed service endpoint; return what each reports of its version.

    Raises ConnectError with one line naming the cloud and the endpoint at fault.
    """
    authorize(conn, entry)
    versions: dict[str, Any] = {}
    catalog = conn.session.auth.get_access(conn.session).service_catalog
    interface = conn.config.get_interface() or "public"
    region = conn.config.region_name
    _require_region(catalog, entry, region)
    for service_type in PROBED_SERVICES:
        try:
            url = catalog.url_for(service_type=service_type, interface=interface, region_name=region)
        except ks_exc.EndpointNotFound:
            continue
        try:
            data = conn.session.get_endpoint_data(service_type=service_type, interface=interface, region_name=region)
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


def _require_region(catalog: Any, entry: str, region: str | None) -> None:
    """A region_name the catalogue does not know would disable every service: say so once, here."""
    if not region:
        return
    regions = sorted({endpoint.get("region_id") or endpoint.get("region")
                      for service in catalog.catalog for endpoint in service.get("endpoints", [])} - {None})
    if region not in regions:
        raise ConnectError(f"cloud {entry!r}: region_name {region!r} is not in the service catalogue "
                           f"(regions: {', '.join(regions) or 'none'})")


# What openstacksdk would take from the environment to pick a clouds.yaml or a cloud.
CONFIG_ENVIRONMENT = ("OS_CLIENT_CONFIG_FILE", "OS_CLIENT_SECURE_FILE", "OS_CLOUD")


def ignored_environment(target: Target) -> list[str]:
    """Notes on the environment variables a target with its own clouds.yaml makes openstacksdk ignore."""
    if target.clouds_yaml is None:
        return []
    return [f"{name}={os.environ[name]} ignored: the target names its clouds.yaml ({target.clouds_yaml})"
            for name in CONFIG_ENVIRONMENT if os.environ.get(name)]


def described(target: Target, conn: openstack.connection.Connection, entry: str, role: str) -> dict[str, Any]:
    """What the run records of a cloud it uses: role, clouds.yaml entry and file, auth URL, region, project."""
    auth = conn.config.config.get("auth", {})
    return {"role": role, "entry": entry, "clouds_yaml": clouds_file(target), "auth_url": auth_url(conn),
            "region_name": conn.config.region_name,
            "project": auth.get("project_name") or auth.get("project_id") or auth.get("system_scope"),
            "user": auth.get("username") or auth.get("user_id")}


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
