"""vCenter access through pyvmomi: TLS as the target says, the PropertyCollector, and tier enforcement.

Reads go through RetrievePropertiesEx (one round trip per query, and unset properties come back absent
instead of crashing an attribute access). In a readonly check only reading SOAP methods are sent.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from stackproof import apilog, safety, secrets
from stackproof.errors import ConnectError
from stackproof.target import Target, VCenter

# SOAP methods that read, or only manage the reading session's own views and filters. `Fetch` is pyVmomi's lazy
# property read (`vm.name` on a managed object sends Fetch for that one property).
READ_METHOD_PREFIXES = (
    "Retrieve", "Find", "Query", "Browse", "SearchDatastore", "CurrentTime", "Login", "Logout", "Fetch",
    "CreateContainerView", "CreateListView", "DestroyView", "CreateFilter", "DestroyPropertyFilter",
    "CreatePropertyCollector", "DestroyPropertyCollector", "WaitForUpdates", "CheckForUpdates",
    "CancelWaitForUpdates",
)


def _ssl_context(vc: VCenter) -> ssl.SSLContext:
    if vc.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=str(vc.ca_bundle) if vc.ca_bundle else None)


def _guard_stub(stub: Any, url: str) -> None:
    """Every SOAP call of this session: refused in the readonly tier unless it reads, recorded in any case.

    SOAP travels as HTTP POST whatever it does: the calls checked here are vouched for to the wire guard.
    """
    invoke = stub.InvokeMethod

    def guarded(mo: Any, info: Any, args: Any) -> Any:
        method = info.wsdlName
        context = safety.current()
        if safety.effective_tier() == "readonly" and not method.startswith(READ_METHOD_PREFIXES):
            apilog.record("SOAP", f"{url}#{method}", None, None, 0.0, context.nodeid if context else None,
                          error="refused: readonly check")
            safety.refuse(f"vSphere {method} on {mo}")
        started = time.monotonic()
        error = None
        try:
            with safety.vouched(f"vSphere {method}"):
                return invoke(mo, info, args)
        except Exception as exc:
            error = type(exc).__name__
            raise
        finally:
            apilog.record("SOAP", f"{url}#{method}", None if error else 200, None,
                          time.monotonic() - started, context.nodeid if context else None, error=error)

    stub.InvokeMethod = guarded


class VCenterUnreachable(ConnectError):
    """A vCenter that does not answer: a finding about the cloud (its checks fail), not bad input."""


# vSphere faults that mean the account was refused: trying again (once per check) can lock it out.
CREDENTIAL_FAULTS = ("InvalidLogin", "NoPermission", "NotAuthenticated", "InvalidLocale")


def connect(target: Target, name: str) -> Any:
    """A pyvmomi ServiceInstance for the target's vCenter `name`.

    Raises TargetError for a password that cannot be resolved, ConnectError for refused credentials or a TLS
    failure (bad input), VCenterUnreachable when the vCenter does not answer.
    """
    from pyVim.connect import SmartConnect

    vc = target.vcenters[name]
    password = target.secret(vc.password, f"vcenters.{name}.password")
    secrets.register(password)
    parts = urlsplit(vc.url)
    try:
        # The login reads the service content and creates a session: no change to the vCenter.
        with safety.vouched("vSphere login"):
            si = SmartConnect(host=parts.hostname, port=parts.port or 443, user=vc.user, pwd=password,
                              sslContext=_ssl_context(vc), connectionPoolTimeout=30)
    except ssl.SSLCertVerificationError as exc:
        raise ConnectError(f"vCenter {name!r}: TLS verification failed for {vc.url}: {exc.reason}") from None
    except OSError as exc:  # refused, reset, timed out, or a TLS handshake cut short
        raise VCenterUnreachable(f"vCenter {name!r}: cannot reach {vc.url}: {exc.strerror or exc}") from None
    except Exception as exc:
        detail = secrets.redact(str(getattr(exc, "msg", None) or exc or type(exc).__name__).splitlines()[0])
        if any(fault in type(exc).__name__ for fault in CREDENTIAL_FAULTS):
            raise ConnectError(f"vCenter {name!r}: {vc.url} refused the login of {vc.user}: {detail}") from None
        raise VCenterUnreachable(f"vCenter {name!r}: no vSphere API at {vc.url}: {detail}") from None
    _guard_stub(si._stub, vc.url)
    return si


def probe(target: Target, name: str) -> dict[str, Any]:
    """Log in to vCenter `name` once and out again; what it reports of itself. ConnectError/TargetError: one line."""
    from pyVim.connect import Disconnect

    si = connect(target, name)
    try:
        about = si.RetrieveContent().about
        return {"url": target.vcenters[name].url, "product": about.fullName, "api_version": about.apiVersion}
    finally:
        with contextlib.suppress(Exception):  # the login worked; a failed logout is not the run's problem
            Disconnect(si)


def retrieve(si: Any, obj_type: Any, paths: list[str], root: Any = None) -> list[dict[str, Any]]:
    """Properties `paths` of every object of `obj_type` under `root`, one RetrievePropertiesEx round trip.

    Each result is a dict with the managed object under "obj" and each property that is set.
    """
    from pyVmomi import vmodl

    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(root or content.rootFolder, [obj_type], True)
    try:
        traversal = vmodl.query.PropertyCollector.TraversalSpec(
            name="view", path="view", skip=False, type=view.__class__)
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[traversal])],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=obj_type, pathSet=paths)],
        )
        collector = content.propertyCollector
        results: list[dict[str, Any]] = []
        page = collector.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions())
        while page is not None:
            for obj in page.objects:
                results.append({"obj": obj.obj} | {prop.name: prop.val for prop in obj.propSet or []})
            page = collector.ContinueRetrievePropertiesEx(page.token) if page.token else None
        return results
    finally:
        view.DestroyView()


def properties_of(si: Any, obj: Any, paths: list[str]) -> dict[str, Any]:
    """Properties `paths` of one managed object (one round trip); unset ones are absent from the result."""
    from pyVmomi import vmodl

    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=obj, skip=False)],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=obj.__class__, pathSet=paths)],
    )
    page = si.RetrieveContent().propertyCollector.RetrievePropertiesEx(
        [spec], vmodl.query.PropertyCollector.RetrieveOptions())
    found = page.objects[0] if page is not None and page.objects else None
    return {"obj": obj} | ({prop.name: prop.val for prop in found.propSet or []} if found else {})


def vms_of_instance(sessions: dict[str, Any], instance_uuid: str, paths: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(vCenter name, properties) of every VM whose config.instanceUuid is `instance_uuid` (nova sets it to the
    server's ID), found through each vCenter's SearchIndex rather than by reading every VM."""
    found = []
    for name, si in sessions.items():
        index = si.RetrieveContent().searchIndex
        for vm in index.FindAllByUuid(uuid=instance_uuid, vmSearch=True, instanceUuid=True) or []:
            found.append((name, properties_of(si, vm, paths)))
    return found
