"""Makes a node's desired state real in its kernel: segments, instance namespaces, routers, nftables.

Runs inside the node (the agent is a process of the lab host): links are the host's, namespaces are named in
the host's own /run. A segment is a Linux bridge ``nsx<vni>`` with a VXLAN device to every other transport
node's TEP (head-end replication, as NSX's MTEP mode floods to the other TEPs). An instance is a network
namespace ``vm-<port>`` whose eth0 has the port's MAC, its peer ``tap<port>`` on the segment's bridge, as nova
names the tap (on a KVM node, the tap is on the NSX-managed Open vSwitch bridge, as nova's os-vif plugs it, with
the port's id and MAC in its external ids; each segment reaches that bridge on a veth with a local VLAN tag, as
the OVS agent keeps networks apart on br-int); its guest boots as a cloud image does (DHCP, then its key pair
from the metadata service, then sshd). A router is a namespace ``qrouter-<id>`` with ``qr-`` interfaces on
segments and a ``qg-`` gateway on br-ex. A network's DHCP server is a namespace ``qdhcp-<network>`` on the edge
with dnsmasq (a static lease per instance port) and the metadata proxy. What exists and is no longer wanted goes.

Each object is remembered by the desired value it was made from: a changed object is made again (a VIF's
firewall alone is re-rendered in place, atomically), an unchanged one is left alone. Memory is not trusted
for long: every sweep also checks what was made against the kernel (a link off its bridge, a namespace gone,
a tunnel flooding to too few TEPs, a guest, dnsmasq or metadata proxy not running) and makes again what is not
intact, logging why.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from stackproof_lab.dataplane import guest, render
from stackproof_lab.dataplane.commands import CommandFailed, gone, inside, pid_in, run, running, stop
from stackproof_lab.dataplane.metadata_proxy import METADATA_ADDRESS
from stackproof_lab.dataplane.state import DhcpServer, NodeState, Router, RouterPort, Vif
from stackproof_lab.topology import VXLAN_PORT

LOG = logging.getLogger("nsx-node-agent")
FLOOD = "00:00:00:00:00:00"
ARP_NEVER = 8  # arp_ignore: answer no ARP request arriving on this interface, whatever address it asks for
MADE_BY = "made-by=nsx-node-agent"  # the external id that marks an Open vSwitch bridge as an agent's
SWEEP_EVERY = 5  # turns between two sweeps for leftovers when nothing changed (each costs two `ip` calls)
# Each network's DHCP server and metadata proxy on the edge: their config, pids and logs, in the node's
# /var/lib/nsx.
DHCP = Path("/var/lib/nsx/dhcp")


def bridge(vni: int) -> str:
    return f"nsx{vni}"


def local_vlan(vni: int) -> int:
    """The tag that keeps segment ``vni`` apart from the others on a node's Open vSwitch bridge."""
    return (vni - 1) % 4094 + 1


def _ovs(*args: str) -> str:
    return run("ovs-vsctl", "--timeout=10", *args)


def _ovs_ports(bridge_name: str) -> set[str]:
    return set(_ovs("list-ports", bridge_name).split())


def _full_checksums(*argv: str) -> None:
    """A veth that sends into Open vSwitch's userspace datapath computes its checksums: the datapath reads whole
    frames (AF_PACKET) and never learns that the checksum was left to an offload, so a frame sent on with its
    checksum unfinished is dropped by the receiver (a guest's DHCP client ignored every offer). ``argv``: the
    device, after `ip netns exec <ns>` when it is a guest's."""
    run(*argv[:-1], "ethtool", "-K", argv[-1], "tx", "off")


def _layer2_only(device: str) -> None:
    """A device the node's own stack must not speak on (a segment's bridge; a tap or a veth on Open vSwitch, which
    the kernel still sees): no ARP answers for the host's addresses, no IPv6 (see _segment for why)."""
    run("sysctl", "-qw", f"net.ipv4.conf.{device}.arp_ignore={ARP_NEVER}", f"net.ipv6.conf.{device}.disable_ipv6=1")


def _links() -> set[str]:
    return set(_link_table())


@dataclass(frozen=True)
class Link:
    master: str | None
    up: bool


def _link_table() -> dict[str, Link]:
    """Every link of the node: its bridge (master) and whether it is administratively up, from `ip -o link`."""
    table = {}
    for line in run("ip", "-o", "link").splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        words = line.split()
        flags = line[line.find("<") + 1:line.find(">")].split(",")
        master = words[words.index("master") + 1] if "master" in words else None
        table[name] = Link(master, "UP" in flags)
    return table


def _arp_ignore(device: str) -> int | None:
    try:
        return int(Path(f"/proc/sys/net/ipv4/conf/{device}/arp_ignore").read_text())
    except (OSError, ValueError):
        return None


def _flood_list(vxlan: str) -> set[str]:
    """The TEPs a VXLAN device floods to (its all-zero FDB entries)."""
    return {line.split(" dst ")[1].split()[0] for line in run("bridge", "fdb", "show", "dev", vxlan).splitlines()
            if line.startswith(FLOOD) and " dst " in line}


def _namespaces() -> set[str]:
    return {line.split()[0] for line in run("ip", "netns", "list").splitlines() if line.strip()}


@dataclass
class Node:
    """The realizer of one transport node; ``made`` remembers what each object was made from."""

    local_tep: str
    remote_teps: tuple[str, ...]
    external_bridge: str | None
    metadata_proxy: tuple[str, ...] = ()  # the edge's command for a network's metadata proxy, without its network
    integration_bridge: str | None = None  # a KVM node's Open vSwitch bridge for taps (nova's [neutron] ovs_bridge)
    made: dict[str, object] = field(default_factory=dict)
    turns: int = 0

    def reset(self) -> None:
        """Start from nothing: whatever a previous agent made is removed (guests, namespaces, segments, the Open
        vSwitch bridge with its ports)."""
        self.made.clear()
        if self.integration_bridge:
            try:  # every bridge an agent made, under whatever name it was configured with then
                for name in _ovs("--bare", "--columns=name", "find", "bridge", f"external_ids:{MADE_BY}").split():
                    _ovs("--no-wait", "--if-exists", "del-br", name)
            except (CommandFailed, subprocess.TimeoutExpired) as exc:  # made again by the first turn that can
                LOG.warning("cannot remove the Open vSwitch bridges made before yet: %s", exc)
        self.sweep(NodeState())

    def sweep(self, desired: NodeState) -> list[str]:
        """Remove what this node has and ``desired`` does not want, whether or not this agent remembers making it
        (a half-made object whose record was dropped, one made by an agent before a restart): the agent converges
        on what exists, so a stale router cannot keep a floating IP that a new one was given."""
        wanted_ns = {v.namespace for v in desired.vifs} | {r.namespace for r in desired.routers} | {
            d.namespace for d in desired.dhcp}
        wanted_links = {bridge(v) for v in desired.vnis} | {f"vx{v}" for v in desired.vnis} | {
            v.tap for v in desired.vifs} | {link for r in desired.routers for link in r.outer_links} | {
            d.outer for d in desired.dhcp}
        removed = []
        for pid_file in guest.GUESTS.glob("*/guest.pid"):
            if f"vm-{pid_file.parent.name}" not in wanted_ns:
                stop(pid_file)
        for pid_file in [*DHCP.glob("*/dnsmasq.pid"), *DHCP.glob("*/proxy.pid")]:
            if f"qdhcp-{pid_file.parent.name}" not in wanted_ns:
                stop(pid_file)
        for namespace in sorted(_namespaces() - wanted_ns):
            if namespace.startswith(("vm-", "qrouter-", "qdhcp-")):
                gone("ip", "netns", "del", namespace)
                removed.append(namespace)
        if self.integration_bridge and f"bridge {self.integration_bridge}" in self.made:
            wanted_ports = {v.tap for v in desired.vifs} | {f"po{v}" for v in desired.vnis}
            for port in sorted(_ovs_ports(self.integration_bridge) - wanted_ports):
                _ovs("--if-exists", "del-port", self.integration_bridge, port)
                removed.append(f"Open vSwitch port {port}")
        if self.integration_bridge:
            wanted_links |= {f"{end}{v}" for v in desired.vnis for end in ("po", "pb")}
        for link in sorted(_links() - wanted_links):
            ours = link.startswith(("rq-", "rg-", "dq-", "tap")) or any(
                link.startswith(prefix) and link[len(prefix):].isdigit() for prefix in ("nsx", "vx", "po", "pb"))
            if ours:
                gone("ip", "link", "del", link)
                removed.append(link)
        return removed

    def apply(self, desired: NodeState) -> list[str]:
        """Make ``desired`` real; returns the problems met (each object's failure is its own, retried next time)."""
        problems: list[str] = []
        before = dict(self.made)
        if self.integration_bridge:
            self._step(problems, f"bridge {self.integration_bridge}", self.integration_bridge, self._bridge)
        for vni in sorted(desired.vnis):
            self._step(problems, f"segment {vni}", vni, self._segment)
        for vif in desired.vifs:
            self._step(problems, f"vif {vif.port_id}", vif, self._vif)
        for router in desired.routers:
            self._step(problems, f"router {router.router_id}", router, self._router)
        for server in desired.dhcp:
            self._step(problems, f"dhcp {server.network_id}", server, self._dhcp)
        wanted = {f"segment {v}" for v in desired.vnis} | {f"vif {v.port_id}" for v in desired.vifs} | {
            f"router {r.router_id}" for r in desired.routers} | {f"dhcp {d.network_id}" for d in desired.dhcp} | {
            f"bridge {b}" for b in [self.integration_bridge] if b}
        for key in sorted(set(self.made) - wanted, key=lambda k: k.startswith("segment")):
            self._step(problems, key, None, self._remove)
        self.turns += 1
        if self.made != before or problems or self.turns % SWEEP_EVERY == 0:
            try:
                for leftover in self.sweep(desired):
                    LOG.info("removed leftover %s", leftover)
                made_now = {key for key, value in self.made.items() if before.get(key) != value}
                for key, why in self.broken(skip=made_now).items():
                    LOG.warning("%s is not intact (%s): made again", key, why)
                    self.made.pop(key, None)
            except (CommandFailed, subprocess.TimeoutExpired) as exc:
                problems.append(f"sweep: {exc}")
        return problems

    def broken(self, skip: set[str] = frozenset()) -> dict[str, str]:
        """What this agent made that the kernel no longer holds as made, and why: each is made again next turn
        (a link that left its bridge, a namespace or a guest sshd that went, a tunnel missing a TEP). `skip`: what
        this turn made (a guest sshd writes its pid file a moment after it starts)."""
        links, namespaces, broken = _link_table(), _namespaces(), {}
        ovs = self.integration_bridge
        bridges = set(_ovs("list-br").split()) if ovs else set()
        ovs_ports = _ovs_ports(ovs) if ovs in bridges else set()
        for key, value in self.made.items():
            if key in skip:
                continue
            why = None
            if key.startswith("bridge "):
                why = None if ovs in bridges else f"Open vSwitch bridge {ovs} missing"
            elif key.startswith("segment "):
                vni = int(key.split()[1])
                vxlan = f"vx{vni}"
                if not links.get(bridge(vni), Link(None, False)).up:
                    why = f"bridge {bridge(vni)} missing or down"
                elif _arp_ignore(bridge(vni)) != ARP_NEVER:
                    why = f"bridge {bridge(vni)} answers ARP for the host's own addresses"
                elif links.get(vxlan) != Link(bridge(vni), True):
                    why = f"{vxlan} missing, down or not on {bridge(vni)}: {links.get(vxlan)}"
                elif set(self.remote_teps) - (flooded := _flood_list(vxlan)):
                    why = f"{vxlan} floods to {sorted(flooded)}, not to every TEP"
                elif ovs and (f"po{vni}" not in ovs_ports or links.get(f"pb{vni}") != Link(bridge(vni), True)):
                    why = f"po{vni} not on {ovs} or pb{vni} not on {bridge(vni)}"
            elif isinstance(value, Vif):
                if value.namespace not in namespaces:
                    why = f"namespace {value.namespace} missing"
                elif ovs and (value.tap not in ovs_ports or not links.get(value.tap, Link(None, False)).up):
                    why = f"{value.tap} missing, down or not on {ovs}"
                elif not ovs and links.get(value.tap) != Link(bridge(value.vni), True):
                    why = f"{value.tap} missing, down or not on {bridge(value.vni)}: {links.get(value.tap)}"
                elif not guest.is_running(value):
                    why = "its guest is not running"
            elif isinstance(value, DhcpServer):
                folder = str(DHCP / value.network_id)
                if value.namespace not in namespaces:
                    why = f"namespace {value.namespace} missing"
                elif links.get(value.outer) != Link(bridge(value.vni), True):
                    why = f"{value.outer} missing, down or not on {bridge(value.vni)}: {links.get(value.outer)}"
                elif not running(DHCP / value.network_id / "dnsmasq.pid", folder):
                    why = "its dnsmasq is not running"
                elif not running(DHCP / value.network_id / "proxy.pid", value.network_id):
                    why = "its metadata proxy is not running"
            elif isinstance(value, Router):
                if value.namespace not in namespaces:
                    why = f"namespace {value.namespace} missing"
                else:
                    masters = {p.device("rq-"): bridge(p.vni) for p in value.interfaces}
                    if value.gateway and self.external_bridge:
                        masters[value.gateway.device("rg-")] = self.external_bridge
                    wrong = [n for n, m in masters.items() if links.get(n) != Link(m, True)]
                    why = f"{', '.join(wrong)} missing, down or off their bridge" if wrong else None
            if why:
                broken[key] = why
        return broken

    def _step(self, problems: list[str], key: str, value: object, action) -> None:
        if value is not None and self.made.get(key) == value:
            return
        try:
            done = action(key, value)  # what it did, when it changed an object in place
        except (CommandFailed, subprocess.TimeoutExpired) as exc:
            problems.append(f"{key}: {exc}")
            self.made.pop(key, None)  # made again next time
            return
        if value is None:
            self.made.pop(key, None)
            LOG.info("removed %s", key)
        else:
            LOG.info("%s %s: %s", done or ("remade" if key in self.made else "made"), key,
                     value.describe() if isinstance(value, Vif | Router | DhcpServer) else value)
            self.made[key] = value

    # --- segments --------------------------------------------------------------------------------

    def _segment(self, key: str, vni: int) -> None:
        name, vxlan = bridge(vni), f"vx{vni}"
        links = _links()
        if name not in links:
            run("ip", "link", "add", name, "type", "bridge")
        # A segment is layer 2 only, as on an NSX transport node: the host's own stack must not speak on it. By
        # default Linux answers ARP for any of the host's addresses on any interface, so a guest whose fixed IP
        # equals this host's data-network address (both in 203.0.113.0/24 in the lab) had its ARP answered by
        # the host's bridge, and its traffic went to the host (a floating IP silent for minutes).
        _layer2_only(name)
        if vxlan not in links:
            run("ip", "link", "add", vxlan, "type", "vxlan", "id", str(vni), "local", self.local_tep, "dstport",
                str(VXLAN_PORT), "nolearning")
        flooded = _flood_list(vxlan)
        for tep in self.remote_teps:
            if tep not in flooded:  # a device half made before (or emptied) gets what it lacks
                run("bridge", "fdb", "append", FLOOD, "dev", vxlan, "dst", tep)
        run("ip", "link", "set", vxlan, "master", name, "up")
        run("ip", "link", "set", name, "up")
        if self.integration_bridge:  # the segment's way into the Open vSwitch bridge, on its local VLAN
            outer, inner = f"pb{vni}", f"po{vni}"
            if outer not in links:
                run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            _layer2_only(inner)
            _full_checksums(outer)
            run("ip", "link", "set", outer, "master", name, "up")
            run("ip", "link", "set", inner, "up")
            _ovs("--may-exist", "add-port", self.integration_bridge, inner, f"tag={local_vlan(vni)}")

    def _bridge(self, key: str, name: str) -> None:
        """The NSX-managed Open vSwitch bridge, on the userspace datapath (this kernel has no openvswitch module)."""
        _ovs("init")
        _ovs("--may-exist", "add-br", name, "--", "set", "bridge", name, "datapath_type=netdev",
             f"external_ids:{MADE_BY}")

    def _plug(self, vif: Vif) -> None:
        """The tap on its segment: into the Linux bridge, or on a KVM node into the Open vSwitch bridge as nova's
        os-vif plugs it (the port's id and MAC in the interface's external ids) on the segment's local VLAN."""
        if not self.integration_bridge:
            run("ip", "link", "set", vif.tap, "master", bridge(vif.vni), "up")
            return
        _layer2_only(vif.tap)
        run("ip", "link", "set", vif.tap, "up")
        _ovs("--may-exist", "add-port", self.integration_bridge, vif.tap, f"tag={local_vlan(vif.vni)}", "--", "set",
             "Interface", vif.tap, f"external_ids:iface-id={vif.port_id}", f"external_ids:attached-mac={vif.mac}",
             "external_ids:iface-status=active")

    # --- instances -------------------------------------------------------------------------------

    def _vif(self, key: str, vif: Vif) -> str | None:
        before = self.made.get(key)
        if isinstance(before, Vif) and replace(before, firewall=vif.firewall, mtu=vif.mtu) == vif:
            # A network's new MTU reaches a running instance as it does on a hypervisor: not at all until it is
            # plugged again (os-vif set the tap's MTU at plug time) or its guest renews its DHCP lease. Rebuilding
            # the VIF would pull the NIC from under the guest (and from a nested cloud's node running in it).
            inside(vif.namespace, "nft", "-f", "-", stdin=render.firewall(vif))
            return "refiltered" if before.mtu == vif.mtu else f"network MTU now {vif.mtu}; the plugged NIC keeps its"
        for made in (before, vif):
            _clear(made, self.integration_bridge)
        run("ip", "netns", "add", vif.namespace)
        # The hypervisor's side has the network's MTU; the guest's NIC starts at 1500 and learns it from DHCP.
        run("ip", "link", "add", vif.tap, "mtu", str(vif.mtu), "type", "veth", "peer", "name", "eth0", "netns",
            vif.namespace)
        self._plug(vif)
        if self.integration_bridge:
            _full_checksums("ip", "netns", "exec", vif.namespace, "eth0")
        inside(vif.namespace, "ip", "link", "set", "eth0", "address", vif.mac)
        inside(vif.namespace, "nft", "-f", "-", stdin=render.firewall(vif))
        guest.boot(vif)
        return None

    # --- DHCP and metadata (the edge) ----------------------------------------------------------------

    def _dhcp(self, key: str, server: DhcpServer) -> str | None:
        before = self.made.get(key)
        folder = DHCP / server.network_id
        if isinstance(before, DhcpServer) and replace(before, hosts=server.hosts) == server:
            _write_leases(folder, server)
            try:
                os.kill(pid_in(folder / "dnsmasq.pid"), signal.SIGHUP)  # dnsmasq reads its hosts file again
            except OSError as exc:
                raise CommandFailed(f"dnsmasq of {server.namespace}: {exc}") from None
            return "reloaded"
        for made in (before, server):
            _clear(made)
        folder.mkdir(parents=True, exist_ok=True)
        ns = server.namespace
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", server.outer, "mtu", str(server.mtu), "type", "veth", "peer", "name", server.inner,
            "mtu", str(server.mtu), "netns", ns)
        run("ip", "link", "set", server.outer, "master", bridge(server.vni), "up")
        inside(ns, "ip", "link", "set", "lo", "up")
        inside(ns, "ip", "link", "set", server.inner, "address", server.mac)
        inside(ns, "ip", "addr", "add", server.address, "dev", server.inner)
        inside(ns, "ip", "addr", "add", f"{METADATA_ADDRESS}/32", "dev", server.inner)
        inside(ns, "ip", "link", "set", server.inner, "up")
        _write_leases(folder, server)
        inside(ns, *render.dnsmasq(server, folder))
        run("setsid", "-f", "sh", "-c", 'exec "$@" >> "$0" 2>&1', str(folder / "proxy.log"), *self.metadata_proxy,
            "--namespace", ns, "--network", server.network_id, "--pid-file", str(folder / "proxy.pid"))
        return None

    # --- routers ---------------------------------------------------------------------------------

    def _router(self, key: str, router: Router) -> str | None:
        before = self.made.get(key)
        if isinstance(before, Router) and replace(before, floating=router.floating, snat=router.snat,
                                                  routes=router.routes) == router:
            self._floating(router, before.floating)
            self._routes(router, before.routes)
            return "retranslated"
        for made in (before, router):
            _clear(made)
        ns = router.namespace
        run("ip", "netns", "add", ns)
        inside(ns, "ip", "link", "set", "lo", "up")
        inside(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for port in router.interfaces:
            self._router_port(ns, port, "qr-", "rq-", bridge(port.vni))
        if router.gateway and self.external_bridge:
            self._router_port(ns, router.gateway, "qg-", "rg-", self.external_bridge)
            _announce(ns, router.gateway_device, router.gateway.address.split("/")[0])
            if router.next_hop:
                inside(ns, "ip", "route", "add", "default", "via", router.next_hop)
        self._floating(router, ())
        self._routes(router, ())
        return None

    def _routes(self, router: Router, before: tuple[tuple[str, str], ...]) -> None:
        """Its extra routes, as neutron's L3 agent sets them in the router's namespace."""
        for destination, _ in sorted(set(before) - set(router.routes)):
            inside(router.namespace, "ip", "route", "del", destination)
        for destination, nexthop in sorted(set(router.routes) - set(before)):
            inside(router.namespace, "ip", "route", "replace", destination, "via", nexthop)

    def _router_port(self, ns: str, port: RouterPort, inner: str, outer: str, master: str) -> None:
        name, peer = port.device(inner), port.device(outer)
        run("ip", "link", "add", peer, "type", "veth", "peer", "name", name, "netns", ns)
        run("ip", "link", "set", peer, "master", master, "up")
        inside(ns, "ip", "link", "set", name, "address", port.mac)
        inside(ns, "ip", "addr", "add", port.address, "dev", name)
        inside(ns, "ip", "link", "set", name, "up")

    def _floating(self, router: Router, before: tuple[tuple[str, str], ...]) -> None:
        """Floating addresses on the gateway (so br-ex's neighbours find them) and the NAT table."""
        if router.gateway is None:
            return
        gateway = router.gateway_device
        old, new = {f for f, _ in before}, {f for f, _ in router.floating}
        for address in sorted(old - new):
            inside(router.namespace, "ip", "addr", "del", f"{address}/32", "dev", gateway)
        for address in sorted(new - old):
            inside(router.namespace, "ip", "addr", "add", f"{address}/32", "dev", gateway)
        inside(router.namespace, "nft", "-f", "-", stdin=render.nat(router))
        for address in sorted(new - old):
            _announce(router.namespace, gateway, address)

    # --- removal ---------------------------------------------------------------------------------

    def _remove(self, key: str, _: object) -> None:
        before = self.made.get(key)
        if isinstance(before, Vif | Router | DhcpServer):
            _clear(before, self.integration_bridge)
        elif key.startswith("segment "):
            vni = int(key.split()[1])
            if self.integration_bridge:
                _ovs("--if-exists", "del-port", self.integration_bridge, f"po{vni}")
            links = _links()
            for name in (f"pb{vni}", f"vx{vni}", bridge(vni)):
                if name in links:
                    gone("ip", "link", "del", name)


def _clear(made: object, ovs_bridge: str | None = None) -> None:
    """Remove an instance's, a router's or a DHCP server's namespace, its processes and the outer ends of its
    links (a tap's Open vSwitch port too), whatever half of it exists."""
    if not isinstance(made, Vif | Router | DhcpServer):
        return
    if isinstance(made, Vif):
        guest.shut_down(made.port_id)
        if ovs_bridge:
            _ovs("--if-exists", "del-port", ovs_bridge, made.tap)
    if isinstance(made, DhcpServer):
        for process in ("dnsmasq", "proxy"):
            stop(DHCP / made.network_id / f"{process}.pid")
    if made.namespace in _namespaces():
        gone("ip", "netns", "del", made.namespace)
    outer = [made.tap] if isinstance(made, Vif) else [made.outer] if isinstance(made, DhcpServer) else made.outer_links
    links = _links()
    for name in outer:
        if name in links:
            gone("ip", "link", "del", name)


def _announce(namespace: str, device: str, address: str) -> None:
    """A gratuitous ARP for an address that just arrived on the external network (as neutron's L3 agent sends
    one): a neighbour still holding the MAC of the router that had this floating IP before learns the new one
    at once instead of after its entry goes stale (tens of seconds of silence)."""
    inside(namespace, "arping", "-q", "-U", "-c", "1", "-I", device, address)


def _write_leases(folder: Path, server: DhcpServer) -> None:
    """dnsmasq's static leases (its --dhcp-hostsfile), replaced whole."""
    text = "".join(f"{mac},{address},infinite\n" for mac, address in server.hosts)
    tmp = folder / "hosts.new"
    tmp.write_text(text)
    tmp.replace(folder / "hosts")
