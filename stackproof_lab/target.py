"""The files that tell stackproof about the lab: ``<state>/clouds.yaml``, ``<state>/stackproof.yaml``
and ``<state>/secure.yaml`` (the vCenter and NSX passwords, which the target file only refers to).

stackproof.yaml is validated by the engine with a strict schema (unknown keys are errors), so its
shape here is exactly the documented one; values come from the same constants the lab provisions.
"""

from __future__ import annotations

import json
import os

import yaml

from stackproof_lab import configs, nested, passwords, provision, ssh, topology
from stackproof_lab.configs.nova import DATASTORE_REGEX, UPDATE_RESOURCES_INTERVAL
from stackproof_lab.configs.openstack import REGION, REPORT_INTERVAL, SERVICE_DOWN_TIME
from stackproof_lab.faults.network import vcenter_cut_commands
from stackproof_lab.layout import Layout
from stackproof_lab.nsx import design as nsx_design
from stackproof_lab.nsx import lab as nsx_lab
from stackproof_lab.topology import TOPOLOGY
from stackproof_lab.vcenter import runtime as vcenter

# clouds.yaml names; an overcloud's (topology.py) differ, so that the undercloud's clouds.yaml holds both clouds.
OVERCLOUD_ADMIN_CLOUD = "sp-overcloud-admin"
ADMIN_CLOUD = OVERCLOUD_ADMIN_CLOUD if topology.NESTED else "sp-lab-admin"
MEMBER_CLOUD = "sp-overcloud-member" if topology.NESTED else "sp-lab-member"
# The nested cloud as the lab builds it (nested.py): its overcloud's computes and controller as target roles.
OVERCLOUD_ROLES = {"overcloud-controller": "controller", "overcloud-compute": "compute-kvm"}
VCENTER = "vc1"  # the lab vCenter's name in stackproof.yaml and secure.yaml
TIMEOUTS = {
    # Polls a second apart: the lab answers a GET in milliseconds, and a workload check waits on a dozen
    # state changes, each of which the default 2 s interval would see a second late on average.
    "interval": 1,
    "server_active": 120,
    # A VMware server whose compute was just restarted takes longer to go (seen: 60 s on a loaded machine).
    "server_deleted": 120,
    "volume_available": 60,
    "volume_deleted": 60,
    "attach": 60,
    "image_active": 120,  # a 1 GiB volume uploaded to Glance takes ~10 s here
    "default": 60,
}
# A lab nova-compute restarts in ~15 s on 2 idle cores; parallel suite runs can double that.
RESTART_MARGIN = 40


def clouds(layout: Layout) -> dict[str, object]:
    secret = passwords.load(layout)

    def entry(user: str, password: str, project: str) -> dict[str, object]:
        return {
            "auth": {
                "auth_url": layout.public_url("keystone", "/v3"),
                "username": user,
                "password": password,
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": REGION,
            "interface": "public",
            "identity_api_version": 3,
        }

    return {
        "clouds": {
            ADMIN_CLOUD: entry("admin", secret["admin"], "admin"),
            MEMBER_CLOUD: entry(provision.MEMBER_USER, secret["member"], provision.MEMBER_PROJECT),
            **_overcloud(layout).get("clouds", {}),
        }
    }


def _overcloud(layout: Layout) -> dict[str, object]:
    """The overcloud's clouds.yaml, when this lab has one in its instances (empty otherwise)."""
    over = nested.placed(layout)
    if over is None or not over.clouds_yaml.exists():
        return {}
    return yaml.safe_load(over.clouds_yaml.read_text()) or {}


def _overcloud_hosts(layout: Layout) -> list[dict[str, object]]:
    path = nested.overcloud_layout(layout).placement_file
    return [{"name": name, **place} for name, place in json.loads(path.read_text())["hosts"].items()]


def secure(layout: Layout) -> dict[str, object]:
    return {"vcenters": {VCENTER: {"password": passwords.load(layout)["vcenter"]}},
            "nsx": {"password": nsx_lab.password(layout)}}


def _urls(role: str) -> list[str]:
    return [f"ssh://{host.name}" for host in TOPOLOGY.with_role(role)]


def _config_paths(*ids: str) -> dict[str, str]:
    """service -> production path, for config ids of one host (all hosts of a role hold the same paths)."""
    return {cid.split("-")[0]: configs.get(cid).path for cid in ids}


def description(layout: Layout) -> dict[str, object]:
    nesting = bool(_overcloud(layout))  # an overcloud placed in this lab's instances, with its clouds.yaml
    described: dict[str, object] = {
        "name": "overcloud" if topology.NESTED else "lab",
        "clouds_yaml": str(layout.clouds_yaml),
        "secure_yaml": str(layout.secure_yaml),
        "clouds": {"cloud": ADMIN_CLOUD, "member": MEMBER_CLOUD},
    }
    if topology.VMWARE:
        described["vcenters"] = {
            VCENTER: {
                "url": f"https://{layout.controller}:{layout.port('vcenter')}/sdk",
                "user": vcenter.USER,
                "password": {"secure": f"vcenters.{VCENTER}.password"},
                "ca_bundle": str(vcenter.ca_file(layout.state)),
            }
        }
    described.update({
        # The lab NSX manager, on the controller's management address like the other APIs (stackproof_lab/nsx).
        "nsx": {
            "url": nsx_design.url(layout, public=True),
            "user": nsx_design.USER,
            "password": {"secure": "nsx.password"},
            "ca_bundle": str(nsx_design.ca_file(layout)),
        },
        # How a runner reaches the hosts: the lab's key, its ssh_config and the host keys it made.
        "ssh": {
            "config": str(ssh.config_file(layout)),
            "known_hosts": str(ssh.known_hosts(layout)),
            "identity_file": str(ssh.identity_file(layout)),
        },
        "hosts": _hosts(layout, nesting),
        "architecture": _architecture(nesting),
        "timeouts": {"profile": "lab", **TIMEOUTS},
        "faults": fault_inventory(layout),
    })
    if nesting:
        described["clouds"] = {**described["clouds"], "undercloud": ADMIN_CLOUD,  # type: ignore[dict-item]
                               "overcloud": OVERCLOUD_ADMIN_CLOUD}
    return described


def _hosts(layout: Layout, nesting: bool) -> dict[str, object]:
    hosts: dict[str, object] = {
        "controller": {"urls": _urls("controller"),
                       "config": _config_paths("nova", "neutron", "glance",
                                               *(("cinder",) if topology.BLOCK_STORAGE else ()))},
        # nova-scheduler runs on the controller and reads its nova.conf.
        "scheduler": {"urls": _urls("scheduler"), "config": _config_paths("nova")},
        "compute-kvm": {"urls": _urls("compute-kvm"), "config": {"nova": "/etc/nova/nova.conf"}},
    }
    if topology.BLOCK_STORAGE:
        # cinder-volume, and the NFS server of the KVM backend.
        hosts["storage"] = {"urls": _urls("storage"), "config": _config_paths("cinder-storage")}
    if topology.VMWARE:
        hosts["compute-vmware"] = {"urls": _urls("compute-vmware"), "config": {"nova": "/etc/nova/nova.conf"}}
    if nesting:
        # The overcloud's hosts, reached through its controller's floating IP (ssh.py includes their ssh_config).
        placed = _overcloud_hosts(layout)
        for role, its_role in OVERCLOUD_ROLES.items():
            hosts[role] = {"urls": [f"ssh://{h['name']}" for h in placed if its_role in h["roles"]],
                           "config": {"nova": "/etc/nova/nova.conf"}}
    return hosts


def _architecture(nesting: bool) -> dict[str, object]:
    architecture: dict[str, object] = {
        "aggregates": [
            {"name": provision.KVM_AGGREGATE, "hypervisor_type": "QEMU"},
            *([{"name": provision.VMWARE_AGGREGATE, "hypervisor_type": provision.VMWARE_HYPERVISOR_TYPE}]
              if topology.VMWARE else []),
        ],
        "image_policy": {
            "isolation": ["aggregate_image_properties_isolation"],
            "metadata_key": next(iter(provision.KVM_AGGREGATE_METADATA)),
        },
    }
    if topology.VMWARE:
        # What the lab vCenter's clusters are built with (stackproof_lab/vcenter/inventory.go).
        architecture.update({"drs": {"enabled": True, "behavior": "fullyAutomated"},
                             "datastore_pattern": DATASTORE_REGEX})
    if topology.BLOCK_STORAGE:
        architecture.update({
            "data_network": {"nic": topology.DATA_NIC, "mtu": topology.DATA_MTU,
                             "subnet": str(topology.STORAGE_SUBNET),
                             "storage_target": str(topology.STORAGE_SERVER),
                             "roles": ["compute-kvm", *(["compute-vmware"] if topology.VMWARE else [])]},
            "volume_types": [
                {"name": vt["name"], "backend": vt["backend"], "hypervisor": vt["hypervisor"]}
                for vt in provision.VOLUME_TYPES
            ],
            # Zone per family, types in their family's zone, cross_az_attach=False (topology.AVAILABILITY_ZONES).
            "volume_steering": {"mechanism": "availability_zones"},
        })
    # The lab NSX manager's overlay transport zone and what the lab's Neutron makes of it (nsx/design.py).
    architecture["nsx"] = {
        "transport_zone": nsx_design.OVERLAY_TZ, "overlay_mtu": nsx_design.OVERLAY_MTU,
        "kvm_bridge": nsx_design.KVM_BRIDGE, "enforcement_seconds": nsx_design.SG_ENFORCEMENT_SECONDS,
        "external_network": provision.EXTERNAL_NETWORK, "guest_user": nsx_design.GUEST_USER}
    architecture["failover"] = {"service_down_time": SERVICE_DOWN_TIME, "report_interval": REPORT_INTERVAL,
                                "restart_margin": RESTART_MARGIN, "resource_update_interval": UPDATE_RESOURCES_INTERVAL}
    if nesting:
        # The overcloud's tenant networks are Geneve segments between its hosts, tunnelled over the undercloud's
        # network sp-overcloud (nested.py); its computes run QEMU (configs/nova.py).
        architecture["nested"] = {
            "network_mode": "overlay",
            # The overcloud's nodes sit on it with port security off: their tunnels, and the routes to the overcloud's
            # external subnet behind its controller, cross it with addresses no allowed-address pair lists.
            "bridged_networks": [nested.NETWORK],
            "undercloud_compute_roles": ["compute-kvm"],
            "overcloud_compute_roles": ["overcloud-compute"],
            "external_network": provision.EXTERNAL_NETWORK,
            "guest_user": nsx_design.GUEST_USER,
        }
    return architecture


def fault_inventory(layout: Layout) -> dict[str, object]:
    """What disruptive checks may do to the lab and how, run on the host over ssh as on any deployment:
    `lab-service` (the lab's systemctl, inside each host) kills and starts a compute; an nftables rule in a
    VMware compute host cuts its path to the vCenter."""
    cut, restore = vcenter_cut_commands(layout)
    computes = [*topology.KVM_COMPUTES, *topology.VMWARE_COMPUTES]
    return {
        "services": {
            f"nova-compute@{host}": {
                "role": TOPOLOGY.get(host).roles[0],
                "url": f"ssh://{host}",
                "kill": "lab-service kill nova-compute",
                # start returns once its heartbeat is fresh.
                "start": "lab-service start nova-compute",
                "check": "lab-service status nova-compute",
            }
            for host in computes
        },
        "vcenter_access": {
            host: {"role": "compute-vmware", "url": f"ssh://{host}", "cut": cut, "restore": restore}
            for host in topology.VMWARE_COMPUTES
        },
    }


def _write(path: os.PathLike[str], text: str, mode: int) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write(layout: Layout) -> None:
    header = "# Written by `python -m stackproof_lab up`; regenerated on every up.\n"
    _write(layout.clouds_yaml, header + yaml.safe_dump(clouds(layout), sort_keys=False), 0o600)
    _write(layout.secure_yaml, header + yaml.safe_dump(secure(layout), sort_keys=False), 0o600)
    _write(
        layout.target_yaml,
        header + yaml.safe_dump(description(layout), sort_keys=False, default_flow_style=None, width=120),
        0o644,
    )
