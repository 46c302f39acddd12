"""The NSX manager through vmware-nsxlib, the NSX plugin's own Policy API client: the suite reads NSX as the plugin
writes it. TLS as the target says, credentials from the target (registered as secrets), and every request through
the engine's guarded adapter, so a readonly check sends only GETs and each call is in the API record.

Authentication is HTTP basic on every request: no login session is created (a POST a readonly check must not
send). ``$REQUESTS_CA_BUNDLE`` does not replace the target's CA: requests would let it override a session's own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from stackproof import secrets
from stackproof.errors import ConnectError
from stackproof.safety import guard
from stackproof.target import NsxManager, Target

LOGICAL_SWITCH = "RealizedLogicalSwitch"  # the realized entity of a segment (its id: the logical switch id)
DEFAULT_ENFORCEMENT_POINT = "/infra/sites/default/enforcement-points/default"


class NsxPolicy:
    """The reads the checks make, as plain dicts; None where NSX answers 404."""

    def __init__(self, lib: Any, url: str, not_found: type[Exception]) -> None:
        self.lib, self.url, self._not_found = lib, url, not_found

    def _maybe(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except self._not_found:
            return None

    def transport_zones(self) -> list[dict]:
        return self.lib.transport_zone.list()

    def segments(self) -> list[dict]:
        return self.lib.segment.list()

    def segment(self, segment_id: str) -> dict | None:
        return self._maybe(self.lib.segment.get, segment_id, silent=True)

    def segment_ports(self, segment_id: str) -> list[dict]:
        return self._maybe(self.lib.segment_port.list, segment_id) or []

    def segment_port(self, segment_id: str, port_id: str) -> dict | None:
        return self._maybe(self.lib.segment_port.get, segment_id, port_id, silent=True)

    def realized_switch(self, segment_id: str) -> dict | None:
        """The segment's realized logical switch entity (state, realization_specific_identifier, alarms)."""
        return self._maybe(self.lib.segment.get_realization_info, segment_id, entity_type=LOGICAL_SWITCH, silent=True)

    def domains(self) -> list[dict]:
        return self.lib.domain.list()

    def groups(self, domain_id: str) -> list[dict]:
        return self._maybe(self.lib.group.list, domain_id) or []

    def security_policies(self, domain_id: str) -> list[dict]:
        return self._maybe(self.lib.comm_map.list, domain_id) or []

    def security_policy(self, domain_id: str, policy_id: str) -> dict | None:
        """A security policy with its rules (GET of one policy carries them)."""
        return self._maybe(self.lib.comm_map.get, domain_id, policy_id, silent=True)


def _lib_config(nsx: NsxManager, password: str) -> Any:
    from vmware_nsxlib.v3 import cluster
    from vmware_nsxlib.v3 import config as nsxlib_config

    class GuardedProvider(cluster.NSXRequestsHTTPProvider):
        """nsxlib's requests provider with the engine's guarded adapter and no login session (see above)."""

        def get_default_headers(self, session: Any, *args: Any, **kwargs: Any) -> None:
            session.trust_env = False
            guard(session)
            session.default_headers = {}

    return nsxlib_config.NsxLibConfig(
        nsx_api_managers=[nsx.url], username=nsx.user, password=password,
        ca_file=str(nsx.ca_bundle) if nsx.ca_bundle else None, insecure=nsx.insecure,
        http_provider=GuardedProvider(), http_timeout=10, http_read_timeout=60, retries=1, max_attempts=2,
        realization_max_attempts=1, realization_wait_sec=0.5, cluster_unavailable_retry=False)


def _preflight(nsx: NsxManager, password: str, where: str) -> None:
    """One health call, to tell an unreachable manager, a TLS failure and refused credentials apart in one line
    (vmware-nsxlib folds them all into 'service cluster unavailable')."""
    session = requests.Session()
    session.trust_env = False
    guard(session)
    tls = "insecure" if nsx.insecure else str(nsx.ca_bundle or "system CAs")
    try:
        response = session.get(f"{nsx.url.rstrip('/')}/api/v1/reverse-proxy/node/health", auth=(nsx.user, password),
                               verify=nsx.verify, timeout=15)
    except requests.exceptions.SSLError as exc:
        raise ConnectError(f"{where}: TLS verification failed for {nsx.url} ({tls}): "
                           f"{secrets.redact(str(exc))[:200]}") from None
    except requests.exceptions.RequestException as exc:
        raise ConnectError(f"{where}: cannot reach {nsx.url}: {type(exc).__name__}") from None
    finally:
        session.close()
    if response.status_code in (401, 403):
        raise ConnectError(f"{where} refused the credentials of {nsx.user} ({response.status_code})")
    if response.status_code != 200:
        raise ConnectError(f"{where}: health call answered {response.status_code}")


def connect(target: Target) -> NsxPolicy:
    """The target's NSX manager; ConnectError (one line) when it cannot be reached or refuses the credentials."""
    if target.nsx is None:
        raise ConnectError("the target describes no NSX manager (nsx:)")
    from vmware_nsxlib.v3 import exceptions as nsxlib_exc
    from vmware_nsxlib.v3.policy import NsxPolicyLib

    nsx = target.nsx
    password = target.secret(nsx.password, "nsx.password")
    secrets.register(password)
    where = f"NSX manager {urlsplit(nsx.url).netloc}"
    _preflight(nsx, password, where)
    try:
        lib = NsxPolicyLib(_lib_config(nsx, password))
    except nsxlib_exc.ManagerError as exc:
        raise ConnectError(f"{where}: {secrets.redact(str(exc))[:300]}") from None
    return NsxPolicy(lib, nsx.url, nsxlib_exc.ResourceNotFound)
