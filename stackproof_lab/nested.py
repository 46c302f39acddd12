"""``up --nested``: an overcloud (OpenStack on OpenStack) inside this lab's instances.

The overcloud is the same declared lab in its "overcloud" profile (topology.py): a controller and two computes
of the KVM role that run virt_type=qemu, each an instance of this lab (the undercloud) booted from its QEMU
image. This module asks the overcloud which hosts it declares (``python -m stackproof_lab hosts --json`` in that
profile), then provisions them here through the undercloud's APIs, as an operator deploys a nested cloud:

- a tenant network for the overcloud's management subnet (its layout's), behind a router on the external network;
- one port per overcloud host at its declared address, port security off (its nested guests' MACs and the
  overcloud's tunnel traffic pass it: SP-NEST-005), and one server on it, on an undercloud KVM compute;
- per overcloud host, a trunk on that port whose sub-port (port security off) carries the overcloud's provider
  VLAN (``provision.PROVIDER_VLAN``): no frame rides it in this kernel, the APIs say how it would;
- a floating IP for the controller: where the runner reaches the overcloud's APIs (its public endpoints);
- the overcloud's external subnet routed behind its controller, so the runner reaches its floating IPs.

Then it writes the overcloud's placement (which instance's namespace each host is, on which undercloud host) and
runs the overcloud's own ``up`` in its state dir (``<state>/overcloud``) and port base (this lab's + 1000, which
also picks its subnets: layout.py). The overcloud shares this lab's virtualenv and its ssh key.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

from stackproof_lab import hostnet, passwords, provision, topology
from stackproof_lab.errors import LabError
from stackproof_lab.layout import REPO, Layout
from stackproof_lab.progress import Progress
from stackproof_lab.rest import Cloud
from stackproof_lab.waiting import wait_for

NETWORK = "sp-overcloud"
SUBNET = "sp-overcloud-subnet"
# The network the trunk sub-ports carrying the overcloud's VLAN (provision.PROVIDER_VLAN) sit on.
VLAN_NETWORK = f"sp-overcloud-vlan{provision.PROVIDER_VLAN}"
ROUTER = "sp-overcloud-router"
PORT_PREFIX = "sp-overcloud-"  # of each overcloud host's undercloud port; its server carries the host's own name
IMAGE = provision.IMAGES[0]["name"]  # the undercloud's QEMU image
FLAVOR = "sp.tiny.kvm"
PORT_BASE_OFFSET = 1000
UP_TIMEOUT = 900  # seconds for the overcloud's own up (installed packages, a busy machine)
BOOT_TIMEOUT = 180  # seconds for a node's server to be ACTIVE and its instance to have its address


def overcloud_layout(layout: Layout) -> Layout:
    """The overcloud's state dir and port base (its published address is in its placement, read by its own
    commands)."""
    return Layout(state=layout.state / "overcloud", port_base=layout.port_base + PORT_BASE_OFFSET)


def overcloud_admin(layout: Layout) -> Cloud:
    """The overcloud's admin, reached where the runner reaches it (its published floating IP)."""
    over = overcloud_layout(layout)
    placed = json.loads(over.placement_file.read_text())
    reached = Layout(state=over.state, port_base=over.port_base, published=placed["published"])
    return Cloud(reached, "admin", passwords.load(reached)["admin"], "admin")


def present(layout: Layout) -> bool:
    """Whether this lab has placed an overcloud."""
    return overcloud_layout(layout).placement_file.exists()


def placed(layout: Layout) -> Layout | None:
    """The overcloud this lab has placed, as its ssh and target files see it: None before ``up --nested``, and in
    an overcloud itself."""
    return None if topology.NESTED or not present(layout) else overcloud_layout(layout)


def _env(layout: Layout) -> dict[str, str]:
    over = overcloud_layout(layout)
    return {**os.environ, topology.PROFILE_ENV: topology.OVERCLOUD, "STACKPROOF_LAB_DIR": str(over.state),
            "STACKPROOF_LAB_PORT_BASE": str(over.port_base)}


def overcloud_command(layout: Layout, *args: str, timeout: float, capture: bool = False) -> str:
    """Run ``python -m stackproof_lab ARGS`` as the overcloud (its profile, state dir and port base)."""
    argv = [sys.executable, "-m", "stackproof_lab", *args]
    try:
        result = subprocess.run(argv, env=_env(layout), cwd=REPO, timeout=timeout, text=True,
                                capture_output=capture)
    except subprocess.TimeoutExpired:
        raise LabError(f"gave up after {timeout:.0f}s waiting for the overcloud's `{' '.join(args)}`") from None
    if result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()[-1:] if capture else []
        raise LabError(f"the overcloud's `{' '.join(args)}` failed (exit {result.returncode})"
                       + (f": {detail[0]}" if detail else "; its lines are above"))
    return result.stdout or ""


def _declared_hosts(layout: Layout) -> list[dict[str, Any]]:
    return json.loads(overcloud_command(layout, "hosts", "--json", timeout=60, capture=True))


def _listed(cloud: Cloud, service: str, path: str, key: str, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return cloud.call(service, "GET", f"{path}?{query}")[key]


def server(cloud: Cloud, name: str) -> dict[str, Any] | None:
    """The undercloud server of that exact name (an overcloud host's), or None."""
    found = cloud.call("compute", "GET", f"/servers/detail?name=^{name}$")["servers"]
    return found[0] if found else None


def _network(cloud: Cloud, over: Layout) -> tuple[dict[str, Any], dict[str, Any]]:
    network = provision.ensure_named(cloud, "network", "/networks", "networks", {"name": NETWORK})
    subnet = provision.ensure_named(cloud, "network", "/subnets", "subnets", {
        "name": SUBNET, "network_id": network["id"], "ip_version": 4, "cidr": str(over.mgmt_network),
        "gateway_ip": over.mgmt_address(1), "enable_dhcp": True,
        # The overcloud's hosts take declared addresses from the top; DHCP's own port comes from the bottom.
        "allocation_pools": [{"start": over.mgmt_address(20), "end": over.mgmt_address(29)}]},
        network_id=network["id"])
    return network, subnet


def _router(cloud: Cloud, subnet: dict[str, Any]) -> dict[str, Any]:
    external = provision.find_named(cloud, "network", "/networks", "networks", provision.EXTERNAL_NETWORK)
    if external is None:
        raise LabError(f"the undercloud has no external network {provision.EXTERNAL_NETWORK}")
    router = provision.ensure_named(cloud, "network", "/routers", "routers",
                                    {"name": ROUTER, "external_gateway_info": {"network_id": external["id"]}})
    attached = _listed(cloud, "network", "/ports", "ports", device_id=router["id"],
                     device_owner="network:router_interface")
    if not any(ip["subnet_id"] == subnet["id"] for port in attached for ip in port["fixed_ips"]):
        cloud.call("network", "PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})
    return router


def _route_external(layout: Layout, cloud: Cloud, router: dict[str, Any], edge: dict[str, Any]) -> str:
    """The overcloud's external subnet (its floating IPs, its routers' gateways) lives behind its edge, the
    controller: the undercloud's router routes it there (an extra route), and the runner to the undercloud's router
    (a route in the root namespace via the router's gateway address on the external network, which the runner is
    on), so that the runner reaches overcloud floating IPs as a user of the nested cloud does."""
    over = overcloud_layout(layout)
    wanted = [{"destination": str(over.external_network), "nexthop": edge["address"]}]
    if router.get("routes") != wanted:
        router = cloud.call("network", "PUT", f"/routers/{router['id']}", {"router": {"routes": wanted}})["router"]
    gateway = (router.get("external_gateway_info") or {}).get("external_fixed_ips") or []
    if not gateway:
        raise LabError(f"undercloud router {ROUTER} has no address on {provision.EXTERNAL_NETWORK}")
    via = gateway[0]["ip_address"]
    hostnet.ip("route", "replace", str(over.external_network), "via", via, "dev", topology.external_bridge(layout))
    return f"{over.external_network} via {via} (router {ROUTER}), then {edge['address']} ({edge['name']})"


def _trunk(cloud: Cloud, vlan_network: dict[str, Any], port: dict[str, Any], name: str) -> None:
    """The node's trunk, with a sub-port for the overcloud's VLAN."""
    sub = provision.ensure_named(cloud, "network", "/ports", "ports", {
        "name": subport_name(name), "network_id": vlan_network["id"], "port_security_enabled": False})
    provision.ensure_named(cloud, "network", "/trunks", "trunks", {
        "name": PORT_PREFIX + name, "port_id": port["id"],
        "sub_ports": [{"port_id": sub["id"], "segmentation_type": "vlan",
                       "segmentation_id": provision.PROVIDER_VLAN}]})


def subport_name(host: str) -> str:
    """The undercloud port of an overcloud host's trunk sub-port for the overcloud's VLAN."""
    return f"{PORT_PREFIX}{host}-vlan{provision.PROVIDER_VLAN}"


def _node(cloud: Cloud, network: dict[str, Any], subnet: dict[str, Any], host: dict[str, Any],
          compute: str) -> dict[str, Any]:
    """The overcloud host's undercloud port and server (found, or made); returns the port."""
    name = host["name"]
    port = provision.ensure_named(cloud, "network", "/ports", "ports", {
        "name": PORT_PREFIX + name, "network_id": network["id"], "port_security_enabled": False,
        "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": host["address"]}],
        "description": f"overcloud host {name} ({', '.join(host['roles'])})"})
    found = server(cloud, name)
    if found is None:
        image = cloud.call("image", "GET", f"/images?name={IMAGE}")["images"]
        if not image:
            raise LabError(f"the undercloud has no image {IMAGE} to boot overcloud hosts from")
        cloud.call("compute", "POST", "/servers", {"server": {
            "name": name, "imageRef": image[0]["id"], "flavorRef": FLAVOR, "networks": [{"port": port["id"]}],
            # The admin's zone:host form: each host on the undercloud compute the placement rule gives it.
            "availability_zone": f"{topology.AVAILABILITY_ZONES['kvm']}:{compute}",
            "metadata": {"overcloud_host": host["name"], "overcloud_roles": ",".join(host["roles"])}}})
    elif found["status"] == "SHUTOFF":
        cloud.call("compute", "POST", f"/servers/{found['id']}/action", {"os-start": None})
    return port


def _server_active(cloud: Cloud, name: str) -> bool:
    found = server(cloud, name)
    if found and found["status"] == "ERROR":
        raise LabError(f"undercloud server {name} is in ERROR: {found.get('fault', {}).get('message', '?')}")
    return bool(found) and found["status"] == "ACTIVE"


def _has_address(layout: Layout, compute: str, netns: str, address: str) -> bool:
    result = hostnet.run_in(layout, compute, ["ip", "-n", netns, "-4", "-o", "addr", "show", "dev", "eth0"],
                            check=False)
    return f" {address}/" in result.stdout


def _floating_ip(cloud: Cloud, port: dict[str, Any]) -> str:
    found = _listed(cloud, "network", "/floatingips", "floatingips", port_id=port["id"])
    if found:
        return found[0]["floating_ip_address"]
    external = provision.find_named(cloud, "network", "/networks", "networks", provision.EXTERNAL_NETWORK)
    assert external is not None  # the router step found it
    return cloud.call("network", "POST", "/floatingips", {"floatingip": {
        "floating_network_id": external["id"], "port_id": port["id"],
        "description": "the overcloud's published address (its public endpoints)"}})["floatingip"][
        "floating_ip_address"]


def place(layout: Layout, progress: Progress) -> dict[str, Any]:
    """Provision the overcloud's hosts as undercloud servers and return its placement."""
    over = overcloud_layout(layout)
    hosts = _declared_hosts(layout)
    cloud = provision.admin(layout)
    network, subnet = _network(cloud, over)
    vlan_network = provision.ensure_named(cloud, "network", "/networks", "networks", {"name": VLAN_NETWORK})
    router = _router(cloud, subnet)
    computes = topology.KVM_COMPUTES
    ports = {}
    for i, host in enumerate(hosts):
        compute = computes[i % len(computes)]
        ports[host["name"]] = (_node(cloud, network, subnet, host, compute), compute)
        _trunk(cloud, vlan_network, ports[host["name"]][0], host["name"])
    placed = {}
    for host in hosts:
        port, compute = ports[host["name"]]
        name, netns = host["name"], f"vm-{port['id'][:11]}"
        wait_for(lambda name=name: _server_active(cloud, name), timeout=BOOT_TIMEOUT, interval=1,
                 what=f"undercloud server {name} to become ACTIVE")
        wait_for(lambda compute=compute, netns=netns, host=host: _has_address(layout, compute, netns, host["address"]),
                 timeout=BOOT_TIMEOUT, interval=1,
                 what=f"instance {netns} on {compute} to have {host['address']} (DHCP), for overcloud host "
                      f"{host['name']}")
        placed[host["name"]] = {"roles": host["roles"], "compute": compute, "run": str(layout.run), "netns": netns}
        progress.say(f"overcloud host {host['name']}: undercloud server {name} on {compute}, {host['address']}")
    controller = next(h for h in hosts if "controller" in h["roles"])
    published = _floating_ip(cloud, ports[controller["name"]][0])
    progress.say(f"overcloud external network: {_route_external(layout, cloud, router, controller)}")
    return {"published": published, "hosts": placed}


def _share(layout: Layout, over: Layout) -> None:
    """The overcloud uses this lab's virtualenv and ssh key (one key opens both clouds' hosts)."""
    over.state.mkdir(parents=True, exist_ok=True)
    if not over.venv.exists():
        over.venv.symlink_to(layout.venv)
    over.ssh.mkdir(mode=0o700, exist_ok=True)
    for name in ("id_ed25519", "id_ed25519.pub"):
        if not (over.ssh / name).exists():
            shutil.copy2(layout.ssh / name, over.ssh / name)


def up(layout: Layout) -> None:
    progress = Progress("lab up --nested")
    over = overcloud_layout(layout)
    with progress.step("overcloud hosts as undercloud servers") as info:
        placement = place(layout, progress)
        _share(layout, over)
        over.placement_file.write_text(json.dumps(placement, indent=1) + "\n")
        info["note"] = f"published on {placement['published']}"
    with progress.step("the overcloud's up"):
        overcloud_command(layout, "up", timeout=UP_TIMEOUT)
    progress.total()


def down(layout: Layout) -> None:
    """Stop the overcloud's processes (its hosts with them); its servers stay, as the undercloud's data."""
    if present(layout):
        overcloud_command(layout, "down", timeout=300)


def remove(layout: Layout) -> None:
    """``down --nested``: the overcloud goes (its processes, then its servers, ports, router and network in the
    undercloud, and its state dir); the undercloud stays up, as it was before ``up --nested``."""
    progress = Progress("lab down --nested")
    over = overcloud_layout(layout)
    with progress.step("the overcloud's down"):
        down(layout)
    with progress.step("its servers, ports, router and network in the undercloud") as info:
        info["note"] = _unprovision(layout)
    shutil.rmtree(over.state, ignore_errors=True)
    progress.total()


def _unprovision(layout: Layout) -> str:
    cloud = provision.admin(layout)
    gone = []
    ports = [p for p in cloud.call("network", "GET", "/ports")["ports"] if p["name"].startswith(PORT_PREFIX)]
    servers = [p for p in ports if p["device_id"] and p["device_owner"].startswith("compute:")]
    for port in servers:
        cloud.call("compute", "DELETE", f"/servers/{port['device_id']}")
        gone.append(port["name"].removeprefix(PORT_PREFIX))
    for port in servers:
        wait_for(lambda port=port: not _exists(cloud, port["device_id"]), timeout=BOOT_TIMEOUT, interval=1,
                 what=f"undercloud server {port['device_id']} to be deleted")
    # A trunk goes once its parent is free, before its ports.
    for trunk in cloud.call("network", "GET", "/trunks")["trunks"]:
        if trunk["name"].startswith(PORT_PREFIX):
            cloud.call("network", "DELETE", f"/trunks/{trunk['id']}")
    for port in ports:
        cloud.call("network", "DELETE", f"/ports/{port['id']}", ok=(204, 404))
    for router in _listed(cloud, "network", "/routers", "routers", name=ROUTER):
        cloud.call("network", "PUT", f"/routers/{router['id']}", {"router": {"routes": []}})
        for subnet in _listed(cloud, "network", "/subnets", "subnets", name=SUBNET):
            cloud.call("network", "PUT", f"/routers/{router['id']}/remove_router_interface",
                       {"subnet_id": subnet["id"]})
        cloud.call("network", "DELETE", f"/routers/{router['id']}")
    for name in (NETWORK, VLAN_NETWORK):
        for network in _listed(cloud, "network", "/networks", "networks", name=name):
            cloud.call("network", "DELETE", f"/networks/{network['id']}")
    hostnet.ip("route", "del", str(overcloud_layout(layout).external_network), check=False)
    return f"servers {', '.join(gone) or 'none'} deleted; {ROUTER} and {NETWORK} deleted"


def _exists(cloud: Cloud, server_id: str) -> bool:
    return bool(cloud.call("compute", "GET", f"/servers?uuid={server_id}")["servers"])
