"""Smoke check of a running lab vCenter with pyvmomi, as a check reads it.

Run with a Python that has pyvmomi (the lab's venv):
``python -m stackproof_lab.vcenter.smoke --state-dir DIR``. It reads the inventory
through the PropertyCollector, checks what the reference architecture asks
of it, and round-trips DRS to partiallyAutomated and back through
ReconfigureComputeResource_Task. Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import ssl
import sys
from pathlib import Path
from typing import Any

from stackproof_lab.vcenter import runtime

Props = dict[str, Any]


def _collect(content: Any, vimtype: Any,
             paths: list[str]) -> dict[Any, Props]:
    """Properties of every object of a type, in one RetrievePropertiesEx."""
    from pyVmomi import vmodl

    pcq = vmodl.query.PropertyCollector
    collector = content.propertyCollector
    view = content.viewManager.CreateContainerView(
        content.rootFolder, [vimtype], True)
    try:
        traverse = pcq.TraversalSpec(name="view", path="view", skip=False,
                                     type=type(view))
        spec = pcq.FilterSpec(
            objectSet=[pcq.ObjectSpec(obj=view, skip=True,
                                      selectSet=[traverse])],
            propSet=[pcq.PropertySpec(type=vimtype, pathSet=paths)])
        found: dict[Any, Props] = {}
        result = collector.RetrievePropertiesEx([spec], pcq.RetrieveOptions())
        while result:
            for obj in result.objects:
                found[obj.obj] = {p.name: p.val for p in obj.propSet}
            result = (collector.ContinueRetrievePropertiesEx(result.token)
                      if result.token else None)
        return found
    finally:
        view.Destroy()


def check(state_dir: Path) -> list[str]:
    """Check the running lab vCenter; returns the failures (none: good)."""
    import pyVim.connect
    from pyVim.task import WaitForTask
    from pyVmomi import vim

    endpoint = runtime.read_endpoint(state_dir)
    if endpoint is None:
        return [f"no {runtime.endpoint_file(state_dir)}: not running"]
    user, password = runtime.credentials()
    tls = ssl.create_default_context(cafile=endpoint["ca_file"])
    si = pyVim.connect.SmartConnect(
        host=endpoint["host"], port=endpoint["port"], user=user,
        pwd=password, sslContext=tls)
    failures: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            failures.append(what)

    try:
        content = si.RetrieveContent()
        uuid = content.about.instanceUuid
        expect(uuid == runtime.INSTANCE_UUID,
               f"instance UUID {uuid}, expected {runtime.INSTANCE_UUID}")
        clusters = _collect(content, vim.ClusterComputeResource,
                            ["name", "configurationEx", "host", "datastore"])
        expect(len(clusters) == 2, f"{len(clusters)} clusters, expected 2")
        for props in clusters.values():
            drs = props["configurationEx"].drsConfig
            expect(bool(drs.enabled)
                   and drs.defaultVmBehavior == "fullyAutomated",
                   f"{props['name']}: DRS {drs.enabled} "
                   f"{drs.defaultVmBehavior}")
        hosts = _collect(content, vim.HostSystem, [
            "name", "summary.config.vmotionEnabled",
            "config.vmotion.netConfig.selectedVnic",
            "config.vmotion.ipConfig", "runtime.connectionState"])
        expect(len(hosts) == 6, f"{len(hosts)} hosts, expected 6")
        for props in hosts.values():
            expect(props.get("summary.config.vmotionEnabled") is True
                   and bool(props.get("config.vmotion.netConfig.selectedVnic"))
                   and props.get("config.vmotion.ipConfig") is not None,
                   f"{props['name']}: vMotion not configured")
            state = props.get("runtime.connectionState")
            expect(state == "connected", f"{props['name']}: {state}")
        datastores = _collect(content, vim.Datastore, ["summary", "host"])
        for ref, props in datastores.items():
            summary = props["summary"]
            mounted = {m.key for m in props["host"]
                       if m.mountInfo.mounted and m.mountInfo.accessible
                       and m.mountInfo.accessMode == "readWrite"}
            expect(summary.type == "VMFS" and bool(summary.multipleHostAccess)
                   and summary.accessible,
                   f"{summary.name}: not a shared VMFS datastore")
            for owner in clusters.values():
                if ref in owner["datastore"]:
                    expect(set(owner["host"]) <= mounted,
                           f"{summary.name}: not mounted read-write on "
                           f"every host of {owner['name']}")
        networks = _collect(content, vim.OpaqueNetwork, ["name", "summary"])
        expect(any(p["summary"].opaqueNetworkType == "nsx.LogicalSwitch"
                   for p in networks.values()),
               "no nsx.LogicalSwitch opaque network")

        # Fault injection's way in: set DRS through the API, read it back,
        # and leave it as it was.
        first: Any = next(iter(clusters))
        was = clusters[first]["configurationEx"].drsConfig.defaultVmBehavior
        other = ("partiallyAutomated" if was != "partiallyAutomated"
                 else "manual")
        for behavior in (other, was):
            spec = vim.cluster.ConfigSpecEx(
                drsConfig=vim.cluster.DrsConfigInfo(
                    defaultVmBehavior=behavior))
            WaitForTask(first.ReconfigureComputeResource_Task(spec, True))
            found = first.configurationEx.drsConfig.defaultVmBehavior
            expect(found == behavior,
                   f"DRS set to {behavior}, read back {found}")
    finally:
        pyVim.connect.Disconnect(si)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackproof_lab.vcenter.smoke",
                                     description=__doc__)
    parser.add_argument("--state-dir", type=Path,
                        default=Path(__file__).resolve().parents[2] / ".lab")
    args = parser.parse_args(argv)
    failures = check(args.state_dir.resolve())
    for failure in failures:
        print("FAIL", failure)
    print("lab vCenter: "
          + ("ok" if not failures else f"{len(failures)} failures"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
