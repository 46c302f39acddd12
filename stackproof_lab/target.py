"""The files that tell stackproof about the lab: ``<state>/clouds.yaml``, ``<state>/stackproof.yaml``
and ``<state>/secure.yaml`` (the vCenter password, which the target file only refers to).

stackproof.yaml is validated by the engine with a strict schema (unknown keys are errors), so its
shape here is exactly the documented one; values come from the same constants the lab provisions.
"""

from __future__ import annotations

import os
import shlex
import sys

import yaml

from stackproof_lab import config, data_network, provision
from stackproof_lab.layout import HOST, REPO, Layout
from stackproof_lab.vcenter import build as vcenter_build

ADMIN_CLOUD = "sp-lab-admin"
MEMBER_CLOUD = "sp-lab-member"
VCENTER = "vc1"  # the lab vCenter's name in stackproof.yaml and secure.yaml
TIMEOUTS = {
    # Polls a second apart: the lab answers a GET in milliseconds, and a workload check waits on a dozen
    # state changes, each of which the default 2 s interval would see a second late on average.
    "interval": 1,
    "server_active": 120,
    "server_deleted": 60,
    "volume_available": 60,
    "volume_deleted": 60,
    "attach": 60,
    "image_active": 120,  # a 1 GiB volume uploaded to Glance takes ~10 s here
    "default": 60,
}
# A lab nova-compute restarts in ~15 s on 2 idle cores; parallel suite runs can double that.
RESTART_MARGIN = 40


def clouds(layout: Layout) -> dict[str, object]:
    secret = config.load_secrets(layout)

    def entry(user: str, password: str, project: str) -> dict[str, object]:
        return {
            "auth": {
                "auth_url": layout.url("keystone", "/v3"),
                "username": user,
                "password": password,
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": config.REGION,
            "interface": "public",
            "identity_api_version": 3,
        }

    return {
        "clouds": {
            ADMIN_CLOUD: entry("admin", secret["admin"], "admin"),
            MEMBER_CLOUD: entry(provision.MEMBER_USER, secret["member"], provision.MEMBER_PROJECT),
        }
    }


def secure(layout: Layout) -> dict[str, object]:
    return {"vcenters": {VCENTER: {"password": config.vcenter_password(layout)}}}


def description(layout: Layout) -> dict[str, object]:
    paths = config.config_paths(layout)
    first_kvm = config.KVM_COMPUTES[0]
    first_vmware = next(iter(config.VMWARE_COMPUTES))
    return {
        "name": "lab",
        "clouds_yaml": str(layout.clouds_yaml),
        "secure_yaml": str(layout.secure_yaml),
        "clouds": {"cloud": ADMIN_CLOUD, "member": MEMBER_CLOUD},
        "vcenters": {
            VCENTER: {
                "url": f"https://{HOST}:{layout.port('vcenter')}/sdk",
                "user": config.VCENTER_USER,
                "password": {"secure": f"vcenters.{VCENTER}.password"},
                "ca_bundle": str(vcenter_build.ca_file(layout.state)),
            }
        },
        "hosts": {
            "controller": {
                "urls": ["local://"],
                "config": {
                    "nova": str(paths["nova"]),
                    "cinder": str(paths["cinder"]),
                    "neutron": str(paths["neutron"]),
                    "glance": str(paths["glance"]),
                },
            },
            # nova-scheduler runs on the controller and reads its nova.conf.
            "scheduler": {"urls": ["local://"], "config": {"nova": str(paths["nova"])}},
            "compute-kvm": {"urls": ["local://"], "config": {"nova": str(paths[f"nova-{first_kvm}"])}},
            "compute-vmware": {"urls": ["local://"], "config": {"nova": str(paths[f"nova-{first_vmware}"])}},
            # vmdk (issue 15): every VMware compute's nova.conf, so that checks comparing the computes (SP-VMDK-008)
            # cover each one the cloud lists; one role per further compute (a role has one config path).
            **{f"compute-{host}": {"urls": ["local://"], "config": {"nova": str(paths[f"nova-{host}"])}}
               for host in list(config.VMWARE_COMPUTES)[1:]},
        },
        "architecture": {
            "aggregates": [
                {"name": provision.KVM_AGGREGATE, "hypervisor_type": "QEMU"},
                {"name": provision.VMWARE_AGGREGATE, "hypervisor_type": provision.VMWARE_HYPERVISOR_TYPE},
            ],
            "image_policy": {
                "isolation": ["aggregate_image_properties_isolation"],
                "metadata_key": next(iter(provision.KVM_AGGREGATE_METADATA)),
            },
            # What the lab vCenter's clusters are built with (stackproof_lab/vcenter/inventory.go).
            "drs": {"enabled": True, "behavior": "fullyAutomated"},
            "datastore_pattern": config.DATASTORE_REGEX,
            "data_network": data_network.description(),
            "volume_types": [
                {"name": vt["name"], "backend": vt["backend"], "hypervisor": vt["hypervisor"]}
                for vt in provision.VOLUME_TYPES
            ],
            "failover": {"service_down_time": config.SERVICE_DOWN_TIME, "report_interval": config.REPORT_INTERVAL,
                         "restart_margin": RESTART_MARGIN,
                         "resource_update_interval": config.UPDATE_RESOURCES_INTERVAL},
        },
        "timeouts": {"profile": "lab", **TIMEOUTS},
        "faults": fault_inventory(layout),
    }


def fault_inventory(layout: Layout) -> dict[str, object]:
    """The lab's answer to the suite's fault inventory: each action is a `python -m stackproof_lab fault`
    command, run on the (local) host of the role, so the disruptive checks drive the lab exactly as they would
    drive systemd units on a real deployment."""
    lab = f"cd {shlex.quote(str(REPO))} && STACKPROOF_LAB_DIR={shlex.quote(str(layout.state))} " \
          f"{shlex.quote(sys.executable)} -m stackproof_lab fault"
    first_vmware = next(iter(config.VMWARE_COMPUTES))
    return {
        "services": {
            f"nova-compute@{first_vmware}": {
                "role": "compute-vmware",
                "kill": f"{lab} inject {first_vmware}-killed",
                # clear starts it and returns once its heartbeat is fresh.
                "start": f"{lab} clear {first_vmware}-killed",
            },
        },
        "vcenter_access": {
            # Each lab VMware compute reaches the vCenter through its own link (stackproof_lab/vcenter_link.py).
            first_vmware: {
                "role": "compute-vmware",
                "cut": f"{lab} inject {first_vmware}-vcenter-unreachable",
                "restore": f"{lab} clear {first_vmware}-vcenter-unreachable",
            },
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
