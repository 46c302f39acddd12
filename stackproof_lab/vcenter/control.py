"""Change the lab vCenter through the real vSphere API, as an operator would: the lab's vSphere faults.

Run with the lab venv's Python (it has pyvmomi; the lab itself runs on the suite's Python, which may
not): ``python -m stackproof_lab.vcenter.control --state-dir DIR OPERATION ...``. Credentials come from the
environment (``STACKPROOF_VCENTER_USER`` / ``STACKPROOF_VCENTER_PASSWORD``), never from the command
line. Prints one JSON object saying what it changed, what it read back, and the cluster's capacity as
nova's VMware driver will report it (so that the lab can wait for nova to catch up); exit status 1
with one line on stderr when vSphere refuses or the vCenter does not answer.

Operations (each idempotent, each read back after the change):
    drs CLUSTER BEHAVIOR                    ReconfigureComputeResource_Task (DRS defaultVmBehavior)
    maintenance CLUSTER enter|exit          EnterMaintenanceMode_Task on one host / exit on every host
    datastore CLUSTER DATASTORE unmount|mount
                                            HostStorageSystem.UnmountVmfsVolume on one host of the
                                            cluster / MountVmfsVolume wherever it is unmounted
    option KEY VALUE                        OptionManager.UpdateOptions on the vCenter's advanced
                                            settings (the lab vCenter's own config.stackproof.lab.*)
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import time
from pathlib import Path
from typing import Any

from stackproof_lab.vcenter import runtime

TASK_TIMEOUT = 60.0  # seconds; the simulator finishes these tasks at once, a real vCenter within seconds


class ControlError(Exception):
    """vSphere refused, or the vCenter is not there: one line for the operator."""


def _connect(state_dir: Path) -> Any:
    import pyVim.connect

    endpoint = runtime.read_endpoint(state_dir)
    if endpoint is None:
        raise ControlError(f"the lab vCenter is not running (no {runtime.endpoint_file(state_dir)})")
    user, password = runtime.credentials()
    context = ssl.create_default_context(cafile=endpoint["ca_file"])
    try:
        return pyVim.connect.SmartConnect(
            host=endpoint["host"], port=endpoint["port"], user=user, pwd=password, sslContext=context
        )
    except OSError as exc:
        raise ControlError(f"the lab vCenter at {endpoint['url']} does not answer: {exc}") from None


def _by_name(content: Any, vimtype: Any, name: str) -> Any:
    view = content.viewManager.CreateContainerView(content.rootFolder, [vimtype], True)
    try:
        for obj in view.view:
            if obj.name == name:
                return obj
    finally:
        view.Destroy()
    raise ControlError(f"the lab vCenter has no {vimtype.__name__.rsplit('.', 1)[-1]} named {name!r}")


def _wait(task: Any, what: str) -> None:
    """Poll the task (bounded): pyVim's WaitForTask would wait forever on a task that never ends."""
    deadline = time.monotonic() + TASK_TIMEOUT
    while True:
        info = task.info
        if info.state == "success":
            return
        if info.state == "error":
            fault = info.error
            raise ControlError(f"{what}: vSphere refused: {type(fault).__name__} {getattr(fault, 'msg', '') or ''}")
        if time.monotonic() > deadline:
            raise ControlError(f"gave up after {TASK_TIMEOUT:.0f}s waiting for the task of {what}")
        time.sleep(0.1)


def _powered_on_vms(host: Any, datastore: Any = None) -> int:
    return sum(
        1 for vm in host.vm if vm.runtime.powerState == "poweredOn" and (datastore is None or datastore in vm.datastore)
    )


def _pick(hosts: list[Any], datastore: Any = None) -> Any:
    """The host a fault takes away: the last by name among those running no VM (on ``datastore``),
    so that injecting does not depend on evacuation; else the last host."""
    ordered = sorted(hosts, key=lambda h: h.name)
    idle = [h for h in ordered if _powered_on_vms(h, datastore) == 0]
    return (idle or ordered)[-1]


def _capacity(cluster: Any) -> dict[str, Any]:
    """The cluster's moref and what nova's VMware driver reports for it: the sums over the hosts that
    are connected and not in maintenance (nova.virt.vmwareapi.vm_util.get_stats_from_cluster)."""
    usable = [h for h in cluster.host if h.runtime.connectionState == "connected" and not h.runtime.inMaintenanceMode]
    return {
        "moid": cluster._moId,
        "vcpus": sum(h.summary.hardware.numCpuThreads for h in usable),
        "memory_mb": sum(h.summary.hardware.memorySize // 2**20 for h in usable),
    }


def drs(content: Any, cluster_name: str, behavior: str) -> dict[str, Any]:
    from pyVmomi import vim

    cluster = _by_name(content, vim.ClusterComputeResource, cluster_name)
    was = cluster.configurationEx.drsConfig.defaultVmBehavior
    if was != behavior:
        spec = vim.cluster.ConfigSpecEx(drsConfig=vim.cluster.DrsConfigInfo(defaultVmBehavior=behavior))
        _wait(cluster.ReconfigureComputeResource_Task(spec, True), f"DRS {behavior} on {cluster_name}")
    found = cluster.configurationEx.drsConfig.defaultVmBehavior
    if found != behavior:
        raise ControlError(f"{cluster_name}: DRS set to {behavior} but reads back {found}")
    return {"cluster": cluster_name, "was": was, "defaultVmBehavior": found, "capacity": _capacity(cluster)}


def maintenance(content: Any, cluster_name: str, verb: str) -> dict[str, Any]:
    from pyVmomi import vim

    cluster = _by_name(content, vim.ClusterComputeResource, cluster_name)
    hosts = list(cluster.host)
    changed = []
    if verb == "enter":
        if not any(h.runtime.inMaintenanceMode for h in hosts):
            host = _pick(hosts)
            # Running VMs are evacuated by DRS (fully automated); powered-off ones may stay.
            _wait(host.EnterMaintenanceMode_Task(timeout=0, evacuatePoweredOffVms=False), f"{host.name} enter")
            changed.append(host.name)
    else:
        for host in hosts:
            if host.runtime.inMaintenanceMode:
                _wait(host.ExitMaintenanceMode_Task(timeout=0), f"{host.name} exit maintenance")
                changed.append(host.name)
    return {
        "cluster": cluster_name,
        "changed": changed,
        "in_maintenance": sorted(h.name for h in hosts if h.runtime.inMaintenanceMode),
        "capacity": _capacity(cluster),
    }


def datastore(content: Any, cluster_name: str, datastore_name: str, verb: str) -> dict[str, Any]:
    from pyVmomi import vim

    cluster = _by_name(content, vim.ClusterComputeResource, cluster_name)
    store = _by_name(content, vim.Datastore, datastore_name)
    uuid = store.info.vmfs.uuid
    members = {h: None for h in cluster.host}
    for mount in store.host:
        if mount.key in members:
            members[mount.key] = mount.mountInfo
    unmounted = [h for h, info in members.items() if info is None or not info.mounted]
    changed = []
    if verb == "unmount":
        if not unmounted:
            host = _pick(list(members), store)
            host.configManager.storageSystem.UnmountVmfsVolume(vmfsUuid=uuid)
            changed.append(host.name)
    else:
        for host in unmounted:
            host.configManager.storageSystem.MountVmfsVolume(vmfsUuid=uuid)
            changed.append(host.name)
    mounts = {m.key.name: bool(m.mountInfo.mounted) for m in store.host if m.key in members}
    return {
        "cluster": cluster_name,
        "datastore": datastore_name,
        "changed": changed,
        "mounted": mounts,
        "capacity": _capacity(cluster),
    }


def option(content: Any, key: str, value: str) -> dict[str, Any]:
    """Set one vCenter advanced setting (vpxd's OptionManager) and read it back."""
    from pyVmomi import vim

    settings = content.setting
    was = next((o.value for o in settings.setting if o.key == key), None)
    if was != value:
        settings.UpdateOptions(changedValue=[vim.option.OptionValue(key=key, value=value)])
    found = next((o.value for o in settings.QueryOptions(name=key) if o.key == key), None)
    if found != value:
        raise ControlError(f"advanced setting {key} set to {value!r} but reads back {found!r}")
    # No cluster's capacity changes: nothing for nova to catch up with (the lab's VSphereChange waits for none).
    return {"option": key, "was": was, "value": found, "cluster": None, "capacity": None}


OPERATIONS = {"drs": drs, "maintenance": maintenance, "datastore": datastore, "option": option}


def run(state_dir: Path, operation: str, args: list[str]) -> dict[str, Any]:
    import pyVim.connect
    from pyVmomi import vmodl

    si = _connect(state_dir)
    try:
        return OPERATIONS[operation](si.RetrieveContent(), *args)
    except vmodl.MethodFault as fault:
        what = f"{operation} {' '.join(args)}"
        raise ControlError(f"{what}: vSphere refused: {type(fault).__name__} {fault.msg or ''}") from None
    finally:
        pyVim.connect.Disconnect(si)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackproof_lab.vcenter.control",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    operations = parser.add_subparsers(dest="operation", required=True)
    p = operations.add_parser("drs")
    p.add_argument("cluster")
    p.add_argument("behavior", choices=["fullyAutomated", "partiallyAutomated", "manual"])
    p = operations.add_parser("maintenance")
    p.add_argument("cluster")
    p.add_argument("verb", choices=["enter", "exit"])
    p = operations.add_parser("datastore")
    p.add_argument("cluster")
    p.add_argument("datastore")
    p.add_argument("verb", choices=["unmount", "mount"])
    p = operations.add_parser("option")
    p.add_argument("key")
    p.add_argument("value")
    args = parser.parse_args(argv)
    positional = {
        "drs": lambda: [args.cluster, args.behavior],
        "maintenance": lambda: [args.cluster, args.verb],
        "datastore": lambda: [args.cluster, args.datastore, args.verb],
        "option": lambda: [args.key, args.value],
    }[args.operation]()
    try:
        result = run(args.state_dir.resolve(), args.operation, positional)
    except ControlError as exc:
        print(f"lab vCenter: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
