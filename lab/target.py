"""The files that tell stackproof about the lab: ``<state>/clouds.yaml`` and ``<state>/stackproof.yaml``.

stackproof.yaml is validated by the engine with a strict schema (unknown keys are errors), so its
shape here is exactly the documented one; values come from the same constants the lab provisions.
"""

from __future__ import annotations

import os

import yaml

from lab import config, provision
from lab.layout import Layout

ADMIN_CLOUD = "sp-lab-admin"
MEMBER_CLOUD = "sp-lab-member"
TIMEOUTS = {
    "server_active": 120,
    "server_deleted": 60,
    "volume_available": 60,
    "volume_deleted": 60,
    "attach": 60,
    "default": 60,
}


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


def description(layout: Layout) -> dict[str, object]:
    paths = config.config_paths(layout)
    first_kvm = config.KVM_COMPUTES[0]
    return {
        "name": "lab",
        "clouds_yaml": str(layout.clouds_yaml),
        "clouds": {"cloud": ADMIN_CLOUD, "member": MEMBER_CLOUD},
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
        },
        "architecture": {
            "aggregates": [{"name": provision.KVM_AGGREGATE, "hypervisor_type": "QEMU"}],
            "image_policy": {
                "isolation": ["aggregate_image_properties_isolation"],
                "metadata_key": next(iter(provision.KVM_AGGREGATE_METADATA)),
            },
            "volume_types": [
                {"name": vt["name"], "backend": vt["backend"], "hypervisor": "kvm"} for vt in provision.VOLUME_TYPES
            ],
            "failover": {"service_down_time": config.SERVICE_DOWN_TIME, "report_interval": config.REPORT_INTERVAL},
        },
        "timeouts": {"profile": "lab", **TIMEOUTS},
        "faults": {"provider": "lab", "lab_command": ["python", "-m", "lab"]},
    }


def _write(path: os.PathLike[str], text: str, mode: int) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write(layout: Layout) -> None:
    header = "# Written by `python -m lab up`; regenerated on every up.\n"
    _write(layout.clouds_yaml, header + yaml.safe_dump(clouds(layout), sort_keys=False), 0o600)
    _write(
        layout.target_yaml,
        header + yaml.safe_dump(description(layout), sort_keys=False, default_flow_style=None, width=120),
        0o644,
    )
