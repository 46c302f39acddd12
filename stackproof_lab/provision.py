"""Provision the architecture through the APIs, idempotently (find, else create).

Identity first (service users, the member project, the catalog: the other services need it to
authenticate), then, once the computes are registered, what stackproof.yaml promises: the ``kvm`` and
``vmware`` aggregates with the metadata AggregateImagePropertiesIsolation reads, flavors, a network,
the volume types, images built on the spot with qemu-img, and quotas large enough for parallel tests.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

from stackproof_lab import passwords, topology, vmdk_images
from stackproof_lab.configs.openstack import REGION
from stackproof_lab.errors import LabError
from stackproof_lab.layout import Layout
from stackproof_lab.nsx import lab as nsx_lab
from stackproof_lab.rest import Cloud
from stackproof_lab.vcenter import runtime as vcenter
from stackproof_lab.waiting import wait_for

# The provisioning stamp (data/bootstrap/<STAMP>.done). Provisioning is idempotent: a new name makes an
# existing lab provision again and gain what a later lab version added (here: NSX overlay networks, a security
# group and a standing port; the VMDK images of vmdk_images.py).
STAMP = "provisioned-nsx-vmdk"
MEMBER_PROJECT = "sp-member"
MEMBER_USER = "sp-member"
KVM_AGGREGATE = "kvm"
# nova's internal image field name (hypervisor_type -> img_hv_type): AggregateImagePropertiesIsolation
# compares aggregate metadata keys with these names and silently skips unknown ones.
KVM_AGGREGATE_METADATA = {"img_hv_type": "qemu"}
VMWARE_AGGREGATE = "vmware"
VMWARE_AGGREGATE_METADATA = {"img_hv_type": "vmware"}
VMWARE_HYPERVISOR_TYPE = "VMware vCenter Server"
# Each aggregate is also its family's availability zone (topology.AVAILABILITY_ZONES).
AGGREGATES = [
    {"name": KVM_AGGREGATE, "hosts": topology.KVM_COMPUTES,
     "metadata": {**KVM_AGGREGATE_METADATA, "availability_zone": topology.AVAILABILITY_ZONES["kvm"]}},
    *([{"name": VMWARE_AGGREGATE, "hosts": tuple(topology.VMWARE_COMPUTES),
        "metadata": {**VMWARE_AGGREGATE_METADATA, "availability_zone": topology.AVAILABILITY_ZONES["vmware"]}}]
      if topology.VMWARE else []),
]
FLAVORS = [
    {"name": "sp.tiny", "vcpus": 1, "ram": 128, "disk": 1, "extra_specs": {}},
    {"name": "sp.small", "vcpus": 1, "ram": 256, "disk": 2, "extra_specs": {}},
    # Pinned to the KVM aggregate through AggregateInstanceExtraSpecsFilter.
    {
        "name": "sp.tiny.kvm",
        "vcpus": 1,
        "ram": 128,
        "disk": 1,
        "extra_specs": {"aggregate_instance_extra_specs:img_hv_type": "qemu"},
    },
]
NETWORK = "sp-net"
SUBNET = "sp-subnet"
SUBNET_CIDR = "192.0.2.0/24"  # documentation range: a record in Neutron only, no traffic ever
NETWORK_TYPE = "geneve"  # tenant networks are NSX overlay segments (ml2 tenant_network_types)
# The external network: routers' gateways and floating IPs, flat on the edge's br-ex, its subnet the lab's
# external /27 (layout.py) whose first address is the runner's: the runner reaches floating IPs directly.
EXTERNAL_NETWORK = "sp-public"
EXTERNAL_SUBNET = "sp-public-subnet"
EXTERNAL_POOL = (10, 30)  # host numbers of the floating IP pool in the /27; .2-.9 stay free for the lab
# A nested lab's overcloud (topology.py) has a VLAN provider network too, as nested deployments keep their
# infrastructure networks on VLANs: the undercloud carries its VLAN on a trunk sub-port of every overcloud node's
# port (nested.py). This kernel has no 802.1Q, so no frame rides it; SP-NEST-004 reads the carriage from the APIs.
PROVIDER_NETWORK = "sp-provider-vlan"
PROVIDER_PHYSNET = "physnet1"
PROVIDER_VLAN = 101
# A security group of the member project with the rules a tenant typically opens (ssh, ping), and a standing
# port on sp-net in it, bound to a KVM compute as an instance's port is: what readonly checks cross-check with NSX
# (segment port, address bindings, group membership) on a cloud at rest.
SECURITY_GROUP = "sp-sg"
SECURITY_GROUP_RULES = [
    {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
     "remote_ip_prefix": "0.0.0.0/0"},
    {"direction": "ingress", "ethertype": "IPv4", "protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"},
]
PORT = "sp-port"
PORT_HOST = topology.KVM_COMPUTES[0]
# RESKEY:availability_zones puts a type's volumes in its family's zone when the request names none.
VOLUME_TYPES = [] if not topology.BLOCK_STORAGE else [
    {
        "name": "kvm-default",
        "backend": topology.CINDER_BACKEND,
        "hypervisor": "kvm",
        "extra_specs": {"RESKEY:availability_zones": topology.AVAILABILITY_ZONES["kvm"]},
    },
    # cinder's VMDK driver reads vmware:vmdk_type (thin | thick | eagerZeroedThick) for the backing disk.
    {
        "name": "vmdk-thin",
        "backend": topology.VMDK_BACKEND,
        "hypervisor": "vmware",
        "extra_specs": {"vmware:vmdk_type": "thin",
                        "RESKEY:availability_zones": topology.AVAILABILITY_ZONES["vmware"]},
    },
]
IMAGES = [
    {
        "name": "sp-qemu-qcow2",
        "disk_format": "qcow2",
        "qemu_img": ["-f", "qcow2"],
        "properties": {
            "hypervisor_type": "qemu",
            "architecture": "x86_64",
            "hw_disk_bus": "virtio",
            "hw_vif_model": "virtio",
            "os_type": "linux",
        },
    },
    {
        # Lands on the VMware aggregate only (img_hv_type=vmware; placement: COMPUTE_IMAGE_TYPE_VMDK).
        "name": "sp-vmware-sparse-vmdk",
        "disk_format": "vmdk",
        "qemu_img": ["-f", "vmdk", "-o", "subformat=monolithicSparse,adapter_type=lsilogic"],
        "properties": {
            "hypervisor_type": "vmware",
            "vmware_disktype": "sparse",
            "vmware_adaptertype": "lsiLogic",
            "os_type": "linux",
        },
    },
]
if topology.VMWARE:
    IMAGES += vmdk_images.IMAGES  # vmdk (issue 15): one image per VMDK transfer format, built by their `build`
else:
    IMAGES = [image for image in IMAGES if image["properties"]["hypervisor_type"] != "vmware"]
IMAGE_VIRTUAL_SIZE = "64M"  # below every flavor's disk so nova accepts the image
QUOTAS = {
    "compute": {"instances": 100, "cores": 200, "ram": 102400, "server_groups": 50},
    "volume": {"volumes": 100, "gigabytes": 1000, "snapshots": 100},
}
CATALOG = [
    ("glance", "image", "glance-api", ""),
    ("placement", "placement", "placement-api", ""),
    ("nova", "compute", "nova-api", "/v2.1"),
    ("neutron", "network", "neutron-api", ""),
    *([("cinderv3", "volumev3", "cinder-api", "/v3/$(project_id)s"),
       ("cinder", "block-storage", "cinder-api", "/v3/$(project_id)s")] if topology.BLOCK_STORAGE else []),
]


def admin(layout: Layout) -> Cloud:
    return Cloud(layout, "admin", passwords.load(layout)["admin"], "admin")


def find_named(cloud: Cloud, service: str, path: str, key: str, name: str, **filters: str) -> dict[str, Any] | None:
    query = "&".join(f"{k}={v}" for k, v in {"name": name, **filters}.items())
    found = [item for item in cloud.call(service, "GET", f"{path}?{query}")[key] if item.get("name") == name]
    return found[0] if found else None


def ensure_named(cloud: Cloud, service: str, path: str, key: str, body: dict[str, Any],
                 **filters: str) -> dict[str, Any]:
    existing = find_named(cloud, service, path, key, body["name"], **filters)
    if existing:
        return existing
    singular = key[:-1] if not key.endswith("ies") else key[:-3] + "y"
    return cloud.call(service, "POST", path, {singular: body})[singular]


# --- identity ----------------------------------------------------------------------------------


def identity(layout: Layout) -> None:
    """Projects, users, role assignments and the service catalog."""
    cloud = admin(layout)
    secret = passwords.load(layout)
    roles = {r["name"]: r["id"] for r in cloud.call("identity", "GET", "/roles")["roles"]}
    for role in ("admin", "member", "reader", "service"):
        if role not in roles:
            roles[role] = cloud.call("identity", "POST", "/roles", {"role": {"name": role}})["role"]["id"]
    service_project = ensure_named(
        cloud,
        "identity",
        "/projects",
        "projects",
        {"name": "service", "domain_id": "default", "description": "OpenStack services"},
    )
    member_project = ensure_named(
        cloud,
        "identity",
        "/projects",
        "projects",
        {"name": MEMBER_PROJECT, "domain_id": "default", "description": "stackproof's unprivileged test project"},
    )
    assignments = [(user, service_project["id"], ("admin", "service")) for user in passwords.SERVICE_USERS]
    assignments.append((MEMBER_USER, member_project["id"], ("member",)))
    for user_name, project_id, user_roles in assignments:
        password = secret["member" if user_name == MEMBER_USER else user_name]
        user = ensure_named(
            cloud, "identity", "/users", "users", {"name": user_name, "domain_id": "default", "password": password}
        )
        for role in user_roles:
            cloud.call("identity", "PUT", f"/projects/{project_id}/users/{user['id']}/roles/{roles[role]}")

    for name, service_type, port, suffix in CATALOG:
        service = ensure_named(
            cloud,
            "identity",
            "/services",
            "services",
            {"name": name, "type": service_type, "enabled": True},
            type=service_type,
        )
        have = {
            e["interface"] for e in cloud.call("identity", "GET", f"/endpoints?service_id={service['id']}")["endpoints"]
        }
        for interface in ("public", "internal", "admin"):
            if interface not in have:
                cloud.call(
                    "identity",
                    "POST",
                    "/endpoints",
                    {
                        "endpoint": {
                            "service_id": service["id"],
                            "interface": interface,
                            "region_id": REGION,
                            # Public: where the runner reaches it (a nested lab's floating IP); the others: the
                            # controller's own address, which the lab's services use among themselves.
                            "url": (layout.public_url if interface == "public" else layout.url)(port, suffix),
                            "enabled": True,
                        }
                    },
                )


# --- the architecture ----------------------------------------------------------------------------


def architecture(layout: Layout, say: Callable[[str], None]) -> str:
    """Everything after identity; returns a one-line summary."""
    cloud = admin(layout)
    member = _project_id(cloud, MEMBER_PROJECT)
    admin_project = _project_id(cloud, "admin")

    expected = ", ".join(
        [f"{host} as QEMU" for host in topology.KVM_COMPUTES]
        + [
            f"{host} as {VMWARE_HYPERVISOR_TYPE} <cluster>.{vcenter.INSTANCE_UUID}"
            for host in topology.VMWARE_COMPUTES
        ]
    )
    hosts = wait_for(
        lambda: _hypervisors(cloud),
        timeout=120,
        interval=1,
        what=f"nova to list hypervisors {expected} (cells discovery)",
    )
    say(f"hypervisors: {', '.join(f'{h} ({name}, {t})' for h, (name, t) in hosts.items())}")
    aggregates = [_ensure_aggregate(cloud, spec) for spec in AGGREGATES]
    for spec, aggregate in zip(AGGREGATES, aggregates, strict=True):
        _check_placement(cloud, aggregate, {host: hosts[host][0] for host in spec["hosts"]})
    for flavor in FLAVORS:
        _ensure_flavor(cloud, flavor)
    for project in (member, admin_project):
        cloud.call("compute", "PUT", f"/os-quota-sets/{project}", {"quota_set": QUOTAS["compute"]})
        if topology.BLOCK_STORAGE:
            cloud.call("volume", "PUT", f"/os-quota-sets/{project}", {"quota_set": QUOTAS["volume"]})
    _ensure_network(cloud, member)
    _ensure_external_network(layout, cloud)
    if topology.NESTED:
        ensure_named(cloud, "network", "/networks", "networks", {
            "name": PROVIDER_NETWORK, "provider:network_type": "vlan", "provider:physical_network": PROVIDER_PHYSNET,
            "provider:segmentation_id": PROVIDER_VLAN})
    _ensure_security_group(cloud, member)
    _ensure_port(cloud, member)
    say(_realize_in_nsx(layout, cloud))
    for volume_type in VOLUME_TYPES:
        _ensure_volume_type(cloud, volume_type)
    for image in IMAGES:
        _ensure_image(layout, cloud, image)
    summary = ", ".join(f"aggregate {a['name']} {a['hosts']}" for a in aggregates)
    return (
        f"{summary}, {len(FLAVORS)} flavors, network {NETWORK} with port {PORT}, security group {SECURITY_GROUP}, "
        f"{len(VOLUME_TYPES)} volume types, {len(IMAGES)} images"
    )


def _project_id(cloud: Cloud, name: str) -> str:
    project = find_named(cloud, "identity", "/projects", "projects", name)
    if not project:
        raise LabError(f"keystone has no project {name!r}; was identity provisioning skipped?")
    return project["id"]


def _hypervisors(cloud: Cloud) -> dict[str, tuple[str, str]]:
    """host -> (hypervisor name, type) once every lab compute shows its hypervisor as expected: the KVM
    ones as QEMU, each VMware one as one hypervisor named <cluster moid>.<vCenter instance UUID>."""
    listed = cloud.call("compute", "GET", "/os-hypervisors/detail")["hypervisors"]
    found: dict[str, list[tuple[str, str]]] = {}
    for h in listed:
        if h.get("state") == "up":
            found.setdefault(h["service"]["host"], []).append((h["hypervisor_hostname"], h["hypervisor_type"]))
    wanted = {host: "QEMU" for host in topology.KVM_COMPUTES}
    wanted.update({host: VMWARE_HYPERVISOR_TYPE for host in topology.VMWARE_COMPUTES})
    result = {}
    for host, hv_type in wanted.items():
        mine = found.get(host, [])
        if len(mine) != 1 or mine[0][1] != hv_type:
            return {}
        if host in topology.VMWARE_COMPUTES and not mine[0][0].endswith(f".{vcenter.INSTANCE_UUID}"):
            raise LabError(
                f"{host}'s hypervisor is {mine[0][0]}, expected <cluster moid>.{vcenter.INSTANCE_UUID}"
            )
        result[host] = mine[0]
    return result


def _ensure_aggregate(cloud: Cloud, spec: dict[str, Any]) -> dict[str, Any]:
    aggregates = cloud.call("compute", "GET", "/os-aggregates")["aggregates"]
    aggregate = next((a for a in aggregates if a["name"] == spec["name"]), None)
    if aggregate is None:
        aggregate = cloud.call("compute", "POST", "/os-aggregates", {"aggregate": {"name": spec["name"]}})["aggregate"]
    for host in spec["hosts"]:
        if host not in aggregate.get("hosts", []):
            aggregate = cloud.call(
                "compute", "POST", f"/os-aggregates/{aggregate['id']}/action", {"add_host": {"host": host}}
            )["aggregate"]
    if any(aggregate.get("metadata", {}).get(k) != v for k, v in spec["metadata"].items()):
        aggregate = cloud.call(
            "compute",
            "POST",
            f"/os-aggregates/{aggregate['id']}/action",
            {"set_metadata": {"metadata": spec["metadata"]}},
        )["aggregate"]
    return aggregate


def _check_placement(cloud: Cloud, aggregate: dict[str, Any], nodes: dict[str, str]) -> None:
    """The placement side of the image policy: each provider (named after its hypervisor node) is in
    the aggregate and carries the image-type traits query_placement_for_image_type_support relies on:
    QCOW2 and not VMDK for KVM (reported by the lab driver), VMDK and not QCOW2 for VMware (nova's)."""
    if aggregate["name"] == VMWARE_AGGREGATE:
        wanted, unwanted = "COMPUTE_IMAGE_TYPE_VMDK", "COMPUTE_IMAGE_TYPE_QCOW2"
    else:
        wanted, unwanted = "COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_IMAGE_TYPE_VMDK"
    for host, node in nodes.items():
        providers = cloud.call("placement", "GET", f"/resource_providers?name={node}")["resource_providers"]
        if not providers:
            raise LabError(f"placement has no resource provider {node} for {host}")
        rp = providers[0]["uuid"]

        def has_traits(rp: str = rp) -> bool:
            traits = set(cloud.call("placement", "GET", f"/resource_providers/{rp}/traits")["traits"])
            return wanted in traits and unwanted not in traits

        wait_for(has_traits, timeout=60, what=f"{host}'s provider {node} to carry {wanted} and not {unwanted}")
        aggregates = cloud.call("placement", "GET", f"/resource_providers/{rp}/aggregates")["aggregates"]
        if aggregate["uuid"] not in aggregates:
            raise LabError(f"placement does not mirror aggregate {aggregate['name']} on {host}'s provider {node}")


def _ensure_flavor(cloud: Cloud, spec: dict[str, Any]) -> None:
    flavors = cloud.call("compute", "GET", "/flavors/detail?is_public=None")["flavors"]
    flavor = next((f for f in flavors if f["name"] == spec["name"]), None)
    if flavor is None:
        body = {k: spec[k] for k in ("name", "vcpus", "ram", "disk")}
        flavor = cloud.call("compute", "POST", "/flavors", {"flavor": {**body, "id": spec["name"]}})["flavor"]
    if spec["extra_specs"] and any(flavor.get("extra_specs", {}).get(k) != v for k, v in spec["extra_specs"].items()):
        cloud.call("compute", "POST", f"/flavors/{flavor['id']}/os-extra_specs", {"extra_specs": spec["extra_specs"]})


def _ensure_network(cloud: Cloud, project_id: str) -> None:
    network = find_named(cloud, "network", "/networks", "networks", NETWORK)
    if network is not None and network.get("provider:network_type") != NETWORK_TYPE:
        # Made by a lab from before NSX (a VLAN network): made again as an overlay, unless something uses it.
        if cloud.call("network", "GET", f"/ports?network_id={network['id']}")["ports"]:
            raise LabError(f"network {NETWORK} is {network.get('provider:network_type')}, not {NETWORK_TYPE}, and "
                           "has ports: delete them (or the lab's data) and run up again")
        cloud.call("network", "DELETE", f"/networks/{network['id']}")
        network = None
    if network is None:
        network = cloud.call(
            "network", "POST", "/networks", {"network": {"name": NETWORK, "project_id": project_id, "shared": True}}
        )["network"]
    if not find_named(cloud, "network", "/subnets", "subnets", SUBNET, network_id=network["id"]):
        cloud.call(
            "network",
            "POST",
            "/subnets",
            {
                "subnet": {
                    "name": SUBNET,
                    "network_id": network["id"],
                    "project_id": project_id,
                    "ip_version": 4,
                    "cidr": SUBNET_CIDR,
                    "enable_dhcp": False,
                    "gateway_ip": None,
                }
            },
        )


def _ensure_external_network(layout: Layout, cloud: Cloud) -> None:
    network = find_named(cloud, "network", "/networks", "networks", EXTERNAL_NETWORK)
    if network is None:
        network = cloud.call("network", "POST", "/networks", {"network": {
            "name": EXTERNAL_NETWORK, "router:external": True, "provider:network_type": "flat",
            "provider:physical_network": topology.EXTERNAL_PHYSNET}})["network"]
    if not find_named(cloud, "network", "/subnets", "subnets", EXTERNAL_SUBNET, network_id=network["id"]):
        net = layout.external_network
        first, last = EXTERNAL_POOL
        cloud.call("network", "POST", "/subnets", {"subnet": {
            "name": EXTERNAL_SUBNET, "network_id": network["id"], "ip_version": 4, "cidr": str(net),
            "gateway_ip": topology.external_gateway(layout), "enable_dhcp": False,
            "allocation_pools": [{"start": str(net.network_address + first), "end": str(net.network_address + last)}]}})


def _ensure_security_group(cloud: Cloud, project_id: str) -> None:
    group = find_named(cloud, "network", "/security-groups", "security_groups", SECURITY_GROUP, project_id=project_id)
    if group is None:
        group = cloud.call("network", "POST", "/security-groups", {"security_group": {
            "name": SECURITY_GROUP, "project_id": project_id,
            "description": "ssh and ping from anywhere (stackproof lab)"}})["security_group"]
    have = {(r["direction"], r["ethertype"], r["protocol"], r["port_range_min"], r["remote_ip_prefix"])
            for r in group["security_group_rules"]}
    for rule in SECURITY_GROUP_RULES:
        key = (rule["direction"], rule["ethertype"], rule["protocol"], rule.get("port_range_min"),
               rule["remote_ip_prefix"])
        if key not in have:
            cloud.call("network", "POST", "/security-group-rules",
                       {"security_group_rule": {**rule, "security_group_id": group["id"]}})


def _ensure_port(cloud: Cloud, project_id: str) -> None:
    network = find_named(cloud, "network", "/networks", "networks", NETWORK)
    group = find_named(cloud, "network", "/security-groups", "security_groups", SECURITY_GROUP, project_id=project_id)
    if network is None or group is None:
        raise LabError(f"network {NETWORK} or security group {SECURITY_GROUP} missing after provisioning them")
    port = find_named(cloud, "network", "/ports", "ports", PORT, network_id=network["id"])
    if port is None:
        port = cloud.call("network", "POST", "/ports", {"port": {
            "name": PORT, "network_id": network["id"], "project_id": project_id,
            "security_groups": [group["id"]], "binding:host_id": PORT_HOST,
            "description": "a standing port, bound as an instance's is (stackproof lab)"}})["port"]
    if port.get("binding:vif_type") in (None, "unbound", "binding_failed"):
        raise LabError(f"port {PORT} on {NETWORK} is not bound (binding:vif_type {port.get('binding:vif_type')})")


def _realize_in_nsx(layout: Layout, cloud: Cloud) -> str:
    """Networks, ports and security groups that Neutron has and the NSX manager lacks (made by a lab from before
    NSX) are made there: an update that changes nothing (the description, as it is) makes the lab's Neutron driver
    write them (PATCHes that create what is missing). Nothing to do on a lab that always had NSX."""
    nsx = nsx_lab.client(layout)

    def missing(path: str) -> bool:
        try:
            nsx.policy("GET", path)
            return False
        except LabError:
            return True

    touched = []
    for network in cloud.call("network", "GET", "/networks")["networks"]:
        if missing(f"/infra/segments/{network['id']}"):
            cloud.call("network", "PUT", f"/networks/{network['id']}",
                       {"network": {"description": network["description"]}})
            touched.append(f"network {network['name']}")
    for port in cloud.call("network", "GET", "/ports")["ports"]:
        if missing(f"/infra/segments/{port['network_id']}/ports/{port['id']}"):
            cloud.call("network", "PUT", f"/ports/{port['id']}", {"port": {"description": port["description"]}})
            touched.append(f"port {port['id']}")
    for group in cloud.call("network", "GET", "/security-groups")["security_groups"]:
        if missing(f"/infra/domains/{group['project_id']}/security-policies/{group['id']}"):
            # Not the name: Neutron refuses a default group any update that names it.
            cloud.call("network", "PUT", f"/security-groups/{group['id']}",
                       {"security_group": {"description": group["description"]}})
            touched.append(f"security group {group['name']} ({group['project_id']})")
    return f"NSX: made {', '.join(touched)}" if touched else "NSX: every network, port and security group there"


def _ensure_volume_type(cloud: Cloud, spec: dict[str, Any]) -> None:
    types = cloud.call("volume", "GET", "/types?is_public=None")["volume_types"]
    volume_type = next((t for t in types if t["name"] == spec["name"]), None)
    hypervisor = {"kvm": "KVM", "vmware": "VMware"}[spec["hypervisor"]]
    if volume_type is None:
        volume_type = cloud.call(
            "volume",
            "POST",
            "/types",
            {
                "volume_type": {
                    "name": spec["name"],
                    "os-volume-type-access:is_public": True,
                    "description": f"volumes on backend {spec['backend']}, attachable to {hypervisor} servers",
                }
            },
        )["volume_type"]
    extra_specs = {"volume_backend_name": spec["backend"], **spec["extra_specs"]}
    have = volume_type.get("extra_specs", {})
    if any(have.get(k) != v for k, v in extra_specs.items()):
        cloud.call("volume", "POST", f"/types/{volume_type['id']}/extra_specs", {"extra_specs": extra_specs})


def _ensure_image(layout: Layout, cloud: Cloud, spec: dict[str, Any]) -> None:
    existing = cloud.call("image", "GET", f"/images?name={spec['name']}")["images"]
    active = [i for i in existing if i["status"] == "active"]
    if active:
        return
    for broken in existing:  # an upload interrupted by an earlier run
        cloud.call("image", "DELETE", f"/images/{broken['id']}")
    path = layout.images / f"{spec['name']}.{spec['disk_format']}"
    path.unlink(missing_ok=True)
    try:
        if "build" in spec:  # vmdk (issue 15): an image with data, built by its own function
            spec["build"](path)
        else:
            subprocess.run(
                ["qemu-img", "create", "-q", *spec["qemu_img"], str(path), IMAGE_VIRTUAL_SIZE],
                check=True,
                capture_output=True,
                text=True,
                timeout=60,
            )
    except subprocess.CalledProcessError as exc:
        raise LabError(f"qemu-img could not build {path.name}: {exc.stderr.strip()}") from None
    image = cloud.call(
        "image",
        "POST",
        "/images",
        {
            "name": spec["name"],
            "disk_format": spec["disk_format"],
            "container_format": "bare",
            "visibility": "public",
            **spec["properties"],
        },
    )
    cloud.call("image", "PUT", f"/images/{image['id']}/file", raw=path.read_bytes(), timeout=120)
    status = cloud.call("image", "GET", f"/images/{image['id']}")["status"]
    if status != "active":
        raise LabError(f"image {spec['name']} is {status} after upload, expected active")
