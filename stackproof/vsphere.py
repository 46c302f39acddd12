"""vCenter access through pyvmomi: TLS as the target says, the PropertyCollector, and tier enforcement.

Reads go through RetrievePropertiesEx (one round trip per query, and unset properties come back absent
instead of crashing an attribute access). In a readonly check only reading SOAP methods are sent.
"""

from __future__ import annotations

import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from stackproof import apilog, safety, secrets
from stackproof.errors import ConnectError, SafetyViolation
from stackproof.target import Target, VCenter

# SOAP methods that read, or only manage the reading session's own views and filters.
READ_METHOD_PREFIXES = (
    "Retrieve", "Find", "Query", "Browse", "SearchDatastore", "CurrentTime", "Login", "Logout",
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
    invoke = stub.InvokeMethod

    def guarded(mo: Any, info: Any, args: Any) -> Any:
        method = info.wsdlName
        context = safety.current()
        if context is not None and context.tier == "readonly" and not method.startswith(READ_METHOD_PREFIXES):
            message = (f"{context.control_id} ({context.nodeid}) is a readonly check but tried vSphere "
                       f"{method} on {mo}: refused before it was sent")
            context.violations.append(message)
            apilog.record("SOAP", f"{url}#{method}", None, None, 0.0, context.nodeid, error="refused")
            raise SafetyViolation(message)
        started = time.monotonic()
        error = None
        try:
            return invoke(mo, info, args)
        except Exception as exc:
            error = type(exc).__name__
            raise
        finally:
            apilog.record("SOAP", f"{url}#{method}", None if error else 200, None,
                          time.monotonic() - started, context.nodeid if context else None, error=error)

    stub.InvokeMethod = guarded


def connect(target: Target, name: str) -> Any:
    """A pyvmomi ServiceInstance for the target's vCenter `name`."""
    from pyVim.connect import SmartConnect

    vc = target.vcenters[name]
    password = target.secret(vc.password, f"vcenters.{name}.password")
    secrets.register(password)
    parts = urlsplit(vc.url)
    try:
        si = SmartConnect(host=parts.hostname, port=parts.port or 443, user=vc.user, pwd=password,
                          sslContext=_ssl_context(vc), connectionPoolTimeout=30)
    except ssl.SSLError as exc:
        raise ConnectError(f"vCenter {name!r}: TLS verification failed for {vc.url}: {exc.reason}") from None
    except OSError as exc:
        raise ConnectError(f"vCenter {name!r}: cannot reach {vc.url}: {exc.strerror or exc}") from None
    except Exception as exc:
        detail = getattr(exc, "msg", None) or type(exc).__name__
        raise ConnectError(f"vCenter {name!r}: login to {vc.url} as {vc.user} failed: {detail}") from None
    _guard_stub(si._stub, vc.url)
    return si


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
