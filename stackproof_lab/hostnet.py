"""The lab hosts as Linux hosts: network namespaces on the lab's bridges, and a PID 1 per host that holds
its mount, PID and UTS namespaces.

``ensure`` makes the management bridge (root namespace, the runner's address), one network namespace per
host with its management link, the storage bridge inside the storage host and each compute's data NIC on
it, the overlay's transport network (a bridge without address in the root namespace, each transport
node's tunnel endpoint on it), the external network (a bridge in the root namespace with the runner's
address, the edge's uplink on it and br-ex inside the edge), and starts each host's PID 1 (``hostinit.py``)
with the host's file system. ``enter`` is the argv prefix
that runs a command inside a host. ``remove`` ends the hosts (every process in them goes with their PID 1)
and deletes the namespaces and links. All idempotent.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from stackproof_lab import processes, topology
from stackproof_lab.errors import LabError
from stackproof_lab.layout import LAB_PACKAGE, MGMT_PREFIX, Layout
from stackproof_lab.topology import TOPOLOGY, Host

IP_TIMEOUT = 10
INIT_TIMEOUT = 20  # seconds for a host's PID 1 to mount its file system
HOSTINIT = LAB_PACKAGE / "hostinit.py"
OWNER_DIR = Path("/run/stackproof-lab")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT)
    except FileNotFoundError:
        raise LabError("the `ip` command (iproute2) is missing: the lab's hosts need it") from None
    if check and result.returncode != 0:
        raise LabError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result


def _link(name: str, netns: str | None = None) -> dict[str, Any] | None:
    prefix = ["-n", netns] if netns else []
    result = ip(*prefix, "-j", "link", "show", name, check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)[0]


def _addresses(name: str, netns: str | None = None) -> set[str]:
    prefix = ["-n", netns] if netns else []
    info = json.loads(ip(*prefix, "-j", "addr", "show", "dev", name).stdout)
    return {f"{a['local']}/{a['prefixlen']}" for entry in info for a in entry.get("addr_info", [])
            if a.get("family") == "inet"}


def _netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def _has_processes(layout: Layout) -> bool:
    """Whether any process runs in this lab id's hosts. Namespaces outlive the processes of a session that
    ended (they are bind mounts under /run/netns): only a process in one makes the lab someone's."""
    if topology.NESTED:
        return any(running(layout, host) for host in TOPOLOGY.hosts)
    return any(_netns_exists(host.netns(layout))
               and ip("netns", "pids", host.netns(layout), check=False).stdout.strip()
               for host in TOPOLOGY.hosts)


def _claim(layout: Layout) -> None:
    """One lab per lab id (port base): a second state dir with the same port base would share names."""
    OWNER_DIR.mkdir(parents=True, exist_ok=True)
    owner = OWNER_DIR / topology.lab_id(layout)
    try:
        current = owner.read_text().strip()
    except FileNotFoundError:
        current = ""
    if current and current != str(layout.state) and Path(current).exists() and _has_processes(layout):
        raise LabError(f"port base {layout.port_base} is taken by the lab at {current}: "
                       "set STACKPROOF_LAB_PORT_BASE to another value")
    owner.write_text(f"{layout.state}\n")
    if topology.NESTED:
        return  # its networks are another cloud's: nothing of it is in the root namespace
    ours = {topology.bridge(layout): ("management", topology.mgmt_network(layout)),
            topology.external_bridge(layout): ("external", layout.external_network)}
    for entry in json.loads(ip("-j", "addr").stdout):
        for bridge, (what, network) in ours.items():
            if entry["ifname"] == bridge:
                continue
            for a in entry.get("addr_info", []):
                if a.get("family") == "inet" and ipaddress.ip_address(a["local"]) in network:
                    raise LabError(f"{network}, the {what} subnet of port base {layout.port_base}, is already on "
                                   f"{entry['ifname']}: set STACKPROOF_LAB_PORT_BASE to another value")


def _ensure_bridge(name: str, address: str | None = None, *, netns: str | None = None,
                   mtu: int | None = None) -> None:
    prefix = ["-n", netns] if netns else []
    if _link(name, netns) is None:
        ip(*prefix, "link", "add", name, "type", "bridge")
    if mtu:
        ip(*prefix, "link", "set", name, "mtu", str(mtu))
    if address and address not in _addresses(name, netns):
        ip(*prefix, "addr", "add", address, "dev", name)
    ip(*prefix, "link", "set", name, "up")


def _ensure_uplink(root_end: str, netns: str, nic: str, bridge: str, *, mtu: int | None = None,
                   address: str | None = None) -> None:
    """A veth from a host (``nic``, with ``address``) to a bridge of the root namespace (its end ``root_end`` a
    port of it)."""
    mtu_args = ["mtu", str(mtu)] if mtu else []
    if _link(nic, netns) is None:
        if _link(root_end) is not None:
            ip("link", "del", root_end)
        ip("link", "add", root_end, *mtu_args, "type", "veth", "peer", "name", nic, *mtu_args, "netns", netns)
    ip("link", "set", root_end, *mtu_args, "master", bridge, "up")
    if address and address not in _addresses(nic, netns):
        ip("-n", netns, "addr", "add", address, "dev", nic)
    ip("-n", netns, "link", "set", nic, *mtu_args, "up")


def _ensure_overlay_networks(layout: Layout) -> None:
    """The transport network (each transport node's TEP on a root bridge without address) and the external
    network (the runner's address on a root bridge; the edge's uplink on it, plugged into br-ex inside)."""
    tep_bridge = topology.tep_bridge(layout)
    _ensure_bridge(tep_bridge, mtu=topology.TEP_MTU)
    for host in TOPOLOGY.transport_nodes:
        netns = host.netns(layout)
        _ensure_uplink(host.tep_link(layout), netns, topology.TEP_NIC, tep_bridge, mtu=topology.TEP_MTU,
                       address=f"{host.tep_address()}/{topology.TEP_SUBNET.prefixlen}")
    external = topology.external_bridge(layout)
    _ensure_bridge(external, f"{topology.external_gateway(layout)}/{layout.external_network.prefixlen}")
    edge = TOPOLOGY.get(topology.EDGE).netns(layout)
    _ensure_uplink(topology.external_uplink(layout), edge, topology.EXTERNAL_NIC, external, mtu=topology.TENANT_MTU)
    _ensure_bridge(topology.EXTERNAL_BRIDGE, netns=edge)
    ip("-n", edge, "link", "set", topology.EXTERNAL_NIC, "master", topology.EXTERNAL_BRIDGE, "up")


def _ensure_netns(layout: Layout, host: Host) -> None:
    netns = host.netns(layout)
    if not _netns_exists(netns):
        ip("netns", "add", netns)
    ip("-n", netns, "link", "set", "lo", "up")
    _ensure_uplink(host.veth(layout), netns, topology.MGMT_NIC, topology.bridge(layout),
                   address=f"{host.address(layout)}/{MGMT_PREFIX}")


def _ensure_storage_network(layout: Layout, nic_states: dict[str, dict[str, Any]]) -> list[str]:
    """The storage bridge inside the storage host, and each compute's data NIC on it, as designed or as
    active faults want them (``nic_states``: host -> {"up": bool, "mtu": int})."""
    storage = TOPOLOGY.get(topology.STORAGE).netns(layout)
    bridge = topology.STORAGE_BRIDGE
    if _link(bridge, storage) is None:
        ip("-n", storage, "link", "add", bridge, "type", "bridge")
    ip("-n", storage, "link", "set", bridge, "mtu", str(topology.DATA_MTU))
    server = f"{topology.STORAGE_SERVER}/{topology.STORAGE_SUBNET.prefixlen}"
    if server not in _addresses(bridge, storage):
        ip("-n", storage, "addr", "add", server, "dev", bridge)
    ip("-n", storage, "link", "set", bridge, "up")
    notes = []
    for host in TOPOLOGY.computes:
        netns, port = host.netns(layout), f"sp-{host.name}"
        if _link(topology.DATA_NIC, netns) is None:
            if _link(port, storage) is not None:
                ip("-n", storage, "link", "del", port)
            ip("-n", netns, "link", "add", topology.DATA_NIC, "type", "veth", "peer", "name", port, "netns", storage)
        ip("-n", storage, "link", "set", port, "mtu", str(topology.DATA_MTU))
        ip("-n", storage, "link", "set", port, "master", bridge, "up")
        wanted = {"up": True, "mtu": topology.DATA_MTU, **nic_states.get(host.name, {})}
        ip("-n", netns, "link", "set", topology.DATA_NIC, "mtu", str(wanted["mtu"]))
        address = f"{host.data_address()}/{topology.STORAGE_SUBNET.prefixlen}"
        if address not in _addresses(topology.DATA_NIC, netns):
            ip("-n", netns, "addr", "add", address, "dev", topology.DATA_NIC)
        ip("-n", netns, "link", "set", topology.DATA_NIC, "up" if wanted["up"] else "down")
        if nic_states.get(host.name):
            notes.append(f"{host.name} {topology.DATA_NIC} {'up' if wanted['up'] else 'down'} mtu {wanted['mtu']}")
    return notes


def set_data_nic(layout: Layout, host: str, *, up: bool, mtu: int) -> str:
    netns = TOPOLOGY.get(host).netns(layout)
    ip("-n", netns, "link", "set", topology.DATA_NIC, "mtu", str(mtu))
    ip("-n", netns, "link", "set", topology.DATA_NIC, "up" if up else "down")
    return f"{host}: {topology.DATA_NIC} {'up' if up else 'down'}, mtu {mtu}"


def init_record_name(host: Host) -> str:
    return f"host-{host.name}"


def _spec(layout: Layout, host: Host) -> dict[str, Any]:
    root = host.root(layout)
    binds = host.mounts(layout)
    for source, _target in binds:
        if not source.endswith("/hosts"):
            Path(source).mkdir(parents=True, exist_ok=True)
    return {
        # Writable layers over the machine's /etc and /var: the host can have /etc/nova, /var/log/nova
        # without a trace on the machine, and sees the machine's files (ssh, python, certificates) beneath.
        "overlays": [{"target": target, "upper": str(root / "overlay" / name / "upper"),
                      "work": str(root / "overlay" / name / "work")}
                     for name, target in (("etc", "/etc"), ("var", "/var"))],
        "tmpfs": ["/run"],
        "dirs": ["/run/sshd"],
        "binds": binds,
    }


def _start_init(layout: Layout, host: Host) -> processes.ProcessRecord:
    root = host.root(layout)
    root.mkdir(parents=True, exist_ok=True)
    spec_file, ready = root / "init.json", root / "init.ready"
    spec_file.write_text(json.dumps(_spec(layout, host), indent=1))
    ready.unlink(missing_ok=True)
    argv = [*_network_of(layout, host),
            "unshare", "--pid", "--fork", "--kill-child", "--mount", "--uts", "--propagation", "private",
            "--mount-proc", "--", sys.executable, "-S", str(HOSTINIT), "--hostname", host.name,
            "--spec", str(spec_file), "--ready", str(ready)]
    record = processes.spawn(init_record_name(host), argv, run_dir=layout.run,
                             log_path=layout.logs / f"{init_record_name(host)}.log",
                             env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}, cwd=layout.state)
    deadline = time.monotonic() + INIT_TIMEOUT
    while not ready.exists():
        if processes.read_record(layout.run, init_record_name(host)) is None:
            raise LabError(f"host {host.name} did not start; see {layout.logs / (init_record_name(host) + '.log')}")
        if time.monotonic() > deadline:
            raise LabError(f"gave up after {INIT_TIMEOUT}s waiting for host {host.name} to mount its file system")
        time.sleep(0.05)
    return record


def placement(layout: Layout) -> dict[str, Any]:
    """Where a nested lab's hosts are (written by the undercloud lab, nested.py): per host, the undercloud
    compute host whose instance it is (its run folder and host name) and the instance's network namespace."""
    try:
        return json.loads(layout.placement_file.read_text())
    except FileNotFoundError:
        raise LabError(f"{layout.placement_file} is missing: a nested lab is placed by the undercloud lab's "
                       "`python -m stackproof_lab up --nested`") from None
    except (OSError, ValueError) as exc:
        raise LabError(f"{layout.placement_file} is unreadable: {exc}") from None


def _network_of(layout: Layout, host: Host) -> list[str]:
    """The argv prefix that puts a host's PID 1 into its network: its own namespace on the lab's bridges, or, in
    a nested lab, the network namespace of the undercloud instance it is (inside the undercloud compute's mount
    namespace, where the instance's namespace is named)."""
    if not topology.NESTED:
        return ["nsenter", f"--net=/run/netns/{host.netns(layout)}", "--"]
    try:
        place = placement(layout)["hosts"][host.name]
        compute_run, compute, netns = Path(place["run"]), place["compute"], place["netns"]
    except (KeyError, TypeError):
        raise LabError(f"{layout.placement_file} does not place host {host.name}") from None
    record = processes.read_record(compute_run, f"host-{compute}")
    children = processes.children(record.pid) if record else []
    if not children:
        raise LabError(f"{host.name} is an instance on undercloud host {compute}, which is not running")
    return ["nsenter", "-t", str(children[0]), "-m", "--", "nsenter", f"--net=/run/netns/{netns}", "--"]


def init_pid(layout: Layout, host: Host) -> int:
    """The root-namespace pid of the host's PID 1 (a child of the recorded unshare process)."""
    record = processes.read_record(layout.run, init_record_name(host))
    if record is None:
        raise LabError(f"host {host.name} is not running: `python -m stackproof_lab up` starts it")
    children = processes.children(record.pid)
    if not children:
        raise LabError(f"host {host.name}: its PID 1 is gone")
    return children[0]


def running(layout: Layout, host: Host) -> bool:
    record = processes.read_record(layout.run, init_record_name(host))
    return record is not None and bool(processes.children(record.pid))


def enter(layout: Layout, host: str, *, cwd: Path | str = "/") -> list[str]:
    """The argv prefix that runs a command inside ``host`` (all its namespaces, in its own session)."""
    pid = init_pid(layout, TOPOLOGY.get(host))
    return ["nsenter", "-t", str(pid), "-m", "-u", "-n", "-p", f"--wd={cwd}", "--", "setsid"]


def run_in(layout: Layout, host: str, argv: list[str], *, timeout: float = 30,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a short command inside ``host``; LabError naming the host when it fails and ``check``."""
    try:
        result = subprocess.run([*enter(layout, host), *argv], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabError(f"gave up after {timeout:.0f}s waiting for `{' '.join(argv)}` on {host}") from None
    if check and result.returncode != 0:
        raise LabError(f"{host}: `{' '.join(argv)}` exited {result.returncode}: "
                       f"{(result.stderr or result.stdout).strip()[-300:]}")
    return result


def ensure(layout: Layout, nic_states: dict[str, dict[str, Any]] | None = None) -> str:
    """Bridges, namespaces, links and every host's PID 1; returns a note."""
    _claim(layout)
    if topology.NESTED:
        return _ensure_nested(layout)
    _ensure_bridge(topology.bridge(layout), f"{topology.runner_address(layout)}/{MGMT_PREFIX}")
    started = []
    for host in TOPOLOGY.hosts:
        _ensure_netns(layout, host)
    faults = _ensure_storage_network(layout, nic_states or {})
    _ensure_overlay_networks(layout)
    (layout.state / "hosts").mkdir(parents=True, exist_ok=True)
    (layout.state / "hosts" / "hosts").write_text(topology.hosts_file(layout))
    for host in TOPOLOGY.hosts:
        if not running(layout, host):
            _start_init(layout, host)
            started.append(host.name)
    note = (f"management {topology.mgmt_network(layout)} on {topology.bridge(layout)}, external "
            f"{layout.external_network} on {topology.external_bridge(layout)}")
    if started:
        note += f"; started {', '.join(started)}"
    if faults:
        note += f"; {', '.join(faults)}"
    return note


def _ensure_nested(layout: Layout) -> str:
    """A nested lab's hosts: each one's PID 1 in the network namespace of its undercloud instance."""
    (layout.state / "hosts").mkdir(parents=True, exist_ok=True)
    (layout.state / "hosts" / "hosts").write_text(topology.hosts_file(layout))
    started = [host.name for host in TOPOLOGY.hosts if not running(layout, host)]
    for name in started:
        _start_init(layout, TOPOLOGY.get(name))
    _ensure_nested_edge(layout)
    place = placement(layout)["hosts"]
    note = "hosts in undercloud instances " + ", ".join(
        f"{h.name} ({h.address(layout)} on {place[h.name]['compute']})" for h in TOPOLOGY.hosts)
    return note + (f"; started {', '.join(started)}" if started else "")


def _ensure_nested_edge(layout: Layout) -> None:
    """The nested edge's br-ex, where its routers' gateways plug in: the gateway of the overcloud's external subnet
    is the edge itself, which routes it to the undercloud's network (its instance's only NIC)."""
    edge = topology.EDGE
    gateway = f"{topology.external_gateway(layout)}/{layout.external_network.prefixlen}"
    if run_in(layout, edge, ["ip", "link", "show", topology.EXTERNAL_BRIDGE], check=False).returncode != 0:
        run_in(layout, edge, ["ip", "link", "add", topology.EXTERNAL_BRIDGE, "type", "bridge"])
    if f" {gateway} " not in run_in(layout, edge, ["ip", "-4", "-o", "addr", "show", "dev",
                                                  topology.EXTERNAL_BRIDGE]).stdout:
        run_in(layout, edge, ["ip", "addr", "add", gateway, "dev", topology.EXTERNAL_BRIDGE])
    run_in(layout, edge, ["ip", "link", "set", topology.EXTERNAL_BRIDGE, "up"])
    run_in(layout, edge, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])


def _end_hosts(layout: Layout) -> list[str]:
    ended = []
    for host in TOPOLOGY.hosts:
        record = processes.read_record(layout.run, init_record_name(host))
        if record is not None:
            processes.stop_group(record, grace=5)
            ended.append(host.name)
        processes.pid_file(layout.run, init_record_name(host)).unlink(missing_ok=True)
    return ended


def remove(layout: Layout) -> str:
    """End every host (their processes go with their PID 1), then delete namespaces, links and the bridge."""
    ended = _end_hosts(layout)
    if not topology.NESTED:  # a nested lab's namespaces are its undercloud instances'
        _remove_networks(layout)
    owner = OWNER_DIR / topology.lab_id(layout)
    if owner.exists() and owner.read_text().strip() == str(layout.state):
        owner.unlink()
    return f"hosts {', '.join(ended)} ended" if ended else "no host was running"


def _remove_networks(layout: Layout) -> None:
    links = [h.veth(layout) for h in TOPOLOGY.hosts] + [h.tep_link(layout) for h in TOPOLOGY.transport_nodes]
    for link in (*links, topology.external_uplink(layout)):
        if _link(link) is not None:
            ip("link", "del", link)
    for host in TOPOLOGY.hosts:
        if _netns_exists(host.netns(layout)):
            ip("netns", "del", host.netns(layout))
    for bridge in (topology.bridge(layout), topology.tep_bridge(layout), topology.external_bridge(layout)):
        if _link(bridge) is not None:
            ip("link", "del", bridge)


def uses_pid_namespace_of(pid: int, host_pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid") == os.readlink(f"/proc/{host_pid}/ns/pid")
    except OSError:
        return False
