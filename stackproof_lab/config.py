"""Configuration files of every lab service, rendered from one place.

Each file is a dict of sections; faults that change a configuration option record an override
(``{config id: {section: {option: value or None}}}``) and the file is re-rendered with it, so
``up`` after a fault keeps the fault and ``fault clear`` restores the exact baseline.
Option choices that are not defaults say why next to them.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from stackproof_lab.layout import HOST, Layout
from stackproof_lab.vcenter import build as vcenter_build

Sections = dict[str, dict[str, object]]
Overrides = dict[str, Sections]

KVM_COMPUTES = ("kvm-1", "kvm-2")
# VMware computes and the vCenter cluster each one fronts: several nova-computes, several clusters, each
# cluster one big hypervisor (the architecture's "one nova-compute per cluster").
VMWARE_COMPUTES = {"vmware-1": "sp-cluster-1", "vmware-2": "sp-cluster-2"}
# A second nova-compute configured for vmware-1's cluster, started only by the fault
# vmware-cluster-fronted-twice (a copied nova.conf with another host name: the cluster is fronted twice).
TWIN_COMPUTE = "vmware-1-twin"
VMWARE_DRIVER = "vmwareapi.VMwareVCDriver"
# nova's default is 60 s. A VMware compute sees vCenter changes (a host in maintenance shrinks the
# cluster's capacity; a lost vCenter disables its service with 'set by vmwareapi host_state') only in
# this periodic task: the lab shows them within seconds.
UPDATE_RESOURCES_INTERVAL = 10
# The lab vCenter's datastores are sp-vmfs-1 (cluster 1), sp-vmfs-2 (cluster 2) and sp-vmfs-shared (mounted on
# every host of both clusters, so both VMware computes can cache images there): see vcenter/README.md.
DATASTORE_REGEX = "^sp-vmfs-"
# vmdk (issue 15): cinder's VMDK backend keeps to each cluster's own datastore. Its driver prefers the datastore
# mounted on the most hosts, which would be the shared one and would change where every volume lives.
CINDER_DATASTORE_REGEX = "^sp-vmfs-[0-9]+$"
VCENTER_USER = vcenter_build.DEFAULT_USER
# The NSX logical switch behind every lab network: the lab vCenter's opaque network sp-nsx-tenant has this
# opaqueNetworkId (passed to the vCenter with -opaque-network-id, and to the ML2 binder, which puts it in
# each port's vif_details as NSX does, so that nova's VMware driver backs the NIC with that network).
NSX_LOGICAL_SWITCH_ID = "6f2d3e4a-0b1c-4d5e-8f90-a1b2c3d4e5f6"
NSX_OPAQUE_NETWORK = "sp-nsx-tenant"
REGION = "RegionOne"
# Heartbeats short enough that a killed compute shows down within seconds (lab-notes).
REPORT_INTERVAL = 2
SERVICE_DOWN_TIME = 10
# (No AvailabilityZoneFilter: nova 34 removed it in favour of the placement pre-filter.)
SCHEDULER_FILTERS = [
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
    "AggregateImagePropertiesIsolation",
    "AggregateInstanceExtraSpecsFilter",
]
CINDER_HOST = "lab-storage"  # cinder-volume's [DEFAULT] host: its services are <host>@<backend>
CINDER_BACKEND = "lab-kvm"  # file volumes with NFS connection info, for KVM servers
VMDK_BACKEND = "lab-vmdk"  # cinder's own VMwareVcVmdkDriver against the lab vCenter, for VMware servers
DATABASES = ("keystone", "glance", "placement", "nova_api", "nova_cell0", "nova_cell1", "neutron", "cinder")
SERVICE_USERS = ("glance", "placement", "nova", "neutron", "cinder")


SECRET_NAMES = ("database", "admin", "member", *SERVICE_USERS, "vcenter")


def load_secrets(layout: Layout) -> dict[str, str]:
    """Passwords of this lab instance, made once and kept in the state dir (mode 0600).

    A name added in a later lab version (e.g. the vCenter's) gets its password on the next call; the
    existing ones never change, since the databases and Keystone already hold them.
    """
    try:
        values: dict[str, str] = json.loads(layout.secrets_file.read_text())
    except FileNotFoundError:
        values = {}
    missing = [name for name in SECRET_NAMES if name not in values]
    if missing:
        values.update({name: secrets.token_urlsafe(18) for name in missing})
        tmp = layout.secrets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(values, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(layout.secrets_file)
    return values


def config_paths(layout: Layout) -> dict[str, Path]:
    """Config id -> the file the service reads."""
    paths = {
        "keystone": layout.etc / "keystone" / "keystone.conf",
        "glance": layout.etc / "glance" / "glance-api.conf",
        "placement": layout.etc / "placement" / "placement.conf",
        "nova": layout.etc / "nova" / "nova.conf",
        "neutron": layout.etc / "neutron" / "neutron.conf",
        "ml2": layout.etc / "neutron" / "plugins" / "ml2" / "ml2_conf.ini",
        "cinder": layout.etc / "cinder" / "cinder.conf",
        "mariadb": layout.etc / "mariadb" / "my.cnf",
        "rabbitmq": layout.etc / "rabbitmq" / "rabbitmq.conf",
    }
    for host in (*KVM_COMPUTES, *VMWARE_COMPUTES, TWIN_COMPUTE):
        # Each compute is a host of its own with its own /etc/nova/nova.conf.
        paths[f"nova-{host}"] = layout.etc / host / "nova" / "nova.conf"
    return paths


def vcenter_password(layout: Layout) -> str:
    """What the lab vCenter accepts (given to it in its environment) and its clients log in with."""
    return load_secrets(layout)["vcenter"]


def db_url(layout: Layout, secret: dict[str, str], name: str) -> str:
    return f"mysql+pymysql://lab:{secret['database']}@{HOST}:{layout.port('mariadb')}/{name}?charset=utf8"


def transport_url(layout: Layout) -> str:
    # RabbitMQ's built-in guest account is allowed from loopback only, which is all the lab uses.
    return f"rabbit://guest:guest@{HOST}:{layout.port('rabbitmq')}/"


def _auth(layout: Layout, secret: dict[str, str], user: str, **extra: object) -> dict[str, object]:
    """A keystoneauth password section for service user ``user`` in project ``service``."""
    return {
        "auth_url": layout.url("keystone", "/v3"),
        "auth_type": "password",
        "username": user,
        "password": secret[user],
        "project_name": "service",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
        "region_name": REGION,
        **extra,
    }


def _authtoken(layout: Layout, secret: dict[str, str], user: str) -> dict[str, object]:
    return {
        "www_authenticate_uri": layout.url("keystone", "/v3"),
        **_auth(layout, secret, user),
        # Tokens from services (nova -> cinder, neutron -> nova) must carry the service role.
        "service_token_roles_required": True,
        "service_token_roles": "service",
    }


def _lock(layout: Layout, owner: str) -> dict[str, object]:
    return {"lock_path": str(layout.data / owner / "lock")}


def baseline(layout: Layout) -> dict[str, Sections]:
    """Every config file's sections before any fault."""
    s = load_secrets(layout)
    venv_etc = layout.venv / "etc"
    d = layout.data
    files: dict[str, Sections] = {}

    files["keystone"] = {
        "DEFAULT": {"debug": False},
        "database": {"connection": db_url(layout, s, "keystone")},
        # bcrypt's minimum cost: bootstrap and every auth stay fast on 2 cores (lab only).
        "identity": {"password_hash_rounds": 4},
        "fernet_tokens": {"key_repository": str(d / "keystone" / "fernet-keys")},
        "fernet_receipts": {"key_repository": str(d / "keystone" / "fernet-keys")},
        "credential": {"key_repository": str(d / "keystone" / "credential-keys")},
        "token": {"provider": "fernet", "expiration": 14400},
        # Every API validates every request's token with keystone; an in-process cache (one keystone
        # worker, so it is coherent) halves keystone's CPU during bring-up on 2 cores.
        "cache": {"enabled": True, "backend": "dogpile.cache.memory"},
    }

    files["glance"] = {
        "DEFAULT": {
            "enabled_backends": "fs:file",
            # Needed under uwsgi so image import can find this API worker.
            "worker_self_reference_url": layout.url("glance-api"),
            "show_image_direct_url": False,
        },
        "database": {"connection": db_url(layout, s, "glance")},
        "glance_store": {"default_backend": "fs"},
        # vmdk (issue 15): glance 33 inspects uploads and refuses a flat VMDK extent (it reads as raw) unless this
        # is off. The lab holds flat (preallocated) VMDK images, as a cloud importing VMFS exports must; the
        # sparse-header subformats pass either way (SP-VMDK-001/003 check the two agree).
        "image_format": {"require_image_format_match": False},
        "fs": {"filesystem_store_datadir": str(d / "glance" / "images")},
        "os_glance_staging_store": {"filesystem_store_datadir": str(d / "glance" / "staging")},
        "os_glance_tasks_store": {"filesystem_store_datadir": str(d / "glance" / "tasks")},
        "keystone_authtoken": _authtoken(layout, s, "glance"),
        "paste_deploy": {"flavor": "keystone", "config_file": str(venv_etc / "glance" / "glance-api-paste.ini")},
        "oslo_concurrency": _lock(layout, "glance"),
    }

    files["placement"] = {
        "placement_database": {"connection": db_url(layout, s, "placement")},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": _authtoken(layout, s, "placement"),
    }

    nova_common: Sections = {
        "DEFAULT": {
            "transport_url": transport_url(layout),
            "my_ip": HOST,
            "my_block_storage_ip": HOST,
            "report_interval": REPORT_INTERVAL,
            "service_down_time": SERVICE_DOWN_TIME,
            # Default: a random start delay of up to 60 s for periodic tasks, including the scheduler's
            # host discovery that new computes wait for. The lab wants them at once.
            "periodic_fuzzy_delay": 0,
        },
        "api": {"auth_strategy": "keystone"},
        "placement": _auth(layout, s, "nova"),
        "neutron": _auth(layout, s, "nova"),
        "cinder": {**_auth(layout, s, "nova"), "os_region_name": REGION},
        "glance": {"region_name": REGION},
        # Nova sends its service token along with the user's (required for volume detach by cinder).
        "service_user": _auth(layout, s, "nova", send_service_user_token=True),
        "vnc": {"enabled": False},
        "oslo_messaging_notifications": {"driver": "noop"},
    }
    files["nova"] = _merge(
        nova_common,
        {
            "DEFAULT": {"host": "lab-controller", "state_path": str(d / "nova")},
            "wsgi": {"api_paste_config": str(venv_etc / "nova" / "api-paste.ini")},
            "api_database": {"connection": db_url(layout, s, "nova_api")},
            "database": {"connection": db_url(layout, s, "nova_cell1")},
            "keystone_authtoken": _authtoken(layout, s, "nova"),
            "conductor": {"workers": 1},
            "scheduler": {
                "workers": 1,
                # The scheduler maps new computes into cell1 itself; provisioning waits for it.
                "discover_hosts_in_cells_interval": 2,
                "query_placement_for_image_type_support": True,
            },
            "filter_scheduler": {"enabled_filters": ",".join(SCHEDULER_FILTERS)},
            "oslo_concurrency": _lock(layout, "nova"),
        },
    )
    for host in KVM_COMPUTES:
        files[f"nova-{host}"] = _merge(
            nova_common,
            {
                "DEFAULT": {
                    "host": host,
                    "state_path": str(d / f"nova-{host}"),
                    "instances_path": str(d / f"nova-{host}" / "instances"),
                    # Resolved as nova.virt.lab_kvm (see plugins/stackproof_lab_plugins/compute_launcher.py).
                    "compute_driver": "lab_kvm.LabKVMDriver",
                },
                "oslo_concurrency": _lock(layout, f"nova-{host}"),
            },
        )

    for host, cluster in {**VMWARE_COMPUTES, TWIN_COMPUTE: VMWARE_COMPUTES["vmware-1"]}.items():
        files[f"nova-{host}"] = _merge(
            nova_common,
            {
                "DEFAULT": {
                    "host": host,
                    "state_path": str(d / f"nova-{host}"),
                    "instances_path": str(d / f"nova-{host}" / "instances"),
                    # nova's own VMware driver: the compute talks to vCenter, which places the VM by DRS.
                    "compute_driver": VMWARE_DRIVER,
                    "update_resources_interval": UPDATE_RESOURCES_INTERVAL,
                    # vmdk (issue 15): nova 34 starts nova-compute in native threads, where the VMware driver's
                    # one oslo.vmware (suds) client is shared by every build and periodic task; with a few
                    # builds at once, vCenter answers reached the wrong caller (a cluster's host list read back
                    # as host stats: KeyError 'summary.runtime', the build or delete ended ERROR). 31 of 900
                    # concurrent stats reads crossed in native threads, none under eventlet.
                    "concurrency_backend": "eventlet",
                },
                # vmdk (issue 15): nova keeps an unused cached image a day (86400 s) and looks every 40 minutes.
                # Each vmdk run caches a few hundred megabytes of images it then deletes from Glance; the lab
                # lets them go after 10 minutes, checked every 5, so that runs do not fill the machine's disk.
                # A second boot within minutes (SP-VMDK-004) still finds the image cached.
                "image_cache": {"manager_interval": 300, "remove_unused_original_minimum_age_seconds": 600},
                "vmware": {
                    "host_ip": HOST,
                    # Through the compute's own link (stackproof_lab/vcenter_link.py), which a fault can cut.
                    "host_port": layout.port(f"vcenter-link-{host}" if host in VMWARE_COMPUTES else "vcenter"),
                    "host_username": VCENTER_USER,
                    "host_password": s["vcenter"],
                    "cluster_name": cluster,
                    "datastore_regex": DATASTORE_REGEX,
                    # TLS verified against the lab vCenter's own CA, as a production compute must.
                    "ca_file": str(vcenter_build.ca_file(layout.state)),
                    "insecure": False,
                    # Default 10, with sleeps growing by 10 s up to 60 s between tries: a lost vCenter
                    # shows (service disabled 'set by vmwareapi host_state') only after ~7 minutes.
                    # The lab's vCenter is on loopback: a failed call is a real failure at once.
                    "api_retry_count": 1,
                    # No integration_bridge: the NSX-T way, the port's vif_details name the logical switch.
                },
                "oslo_concurrency": _lock(layout, f"nova-{host}"),
            },
        )

    files["neutron"] = {
        "DEFAULT": {
            "core_plugin": "ml2",
            "service_plugins": "",
            "auth_strategy": "keystone",
            "transport_url": transport_url(layout),
            "state_path": str(d / "neutron"),
            "api_paste_config": str(venv_etc / "neutron" / "api-paste.ini"),
            # No DHCP agent exists; subnets are created with DHCP off.
            "dhcp_agent_notification": False,
            "notify_nova_on_port_status_changes": True,
            "notify_nova_on_port_data_changes": True,
        },
        "database": {"connection": db_url(layout, s, "neutron")},
        "keystone_authtoken": _authtoken(layout, s, "neutron"),
        "nova": _auth(layout, s, "neutron"),
        "oslo_concurrency": _lock(layout, "neutron"),
        "oslo_messaging_notifications": {"driver": "noop"},
    }
    files["ml2"] = {
        "ml2": {
            "type_drivers": "flat,vlan,local",
            "tenant_network_types": "vlan",
            # lab_binder binds every port without an L2 agent (stackproof_lab/plugins/stackproof_lab_plugins/ml2.py).
            "mechanism_drivers": "lab_binder",
            "extension_drivers": "port_security",
        },
        "ml2_type_flat": {"flat_networks": "*"},
        "ml2_type_vlan": {"network_vlan_ranges": "physnet1:100:199"},
        "securitygroup": {"firewall_driver": "noop", "enable_security_group": True},
        "lab_binder": {"nsx_logical_switch_id": NSX_LOGICAL_SWITCH_ID},
    }

    cinder_conf = config_paths(layout)["cinder"]
    files["cinder"] = {
        "DEFAULT": {
            "host": CINDER_HOST,
            "transport_url": transport_url(layout),
            "auth_strategy": "keystone",
            "state_path": str(d / "cinder"),
            "api_paste_config": str(venv_etc / "cinder" / "api-paste.ini"),
            "my_ip": HOST,
            "enabled_backends": f"{CINDER_BACKEND},{VMDK_BACKEND}",
            "default_volume_type": "kvm-default",
            "report_interval": REPORT_INTERVAL,
            "service_down_time": SERVICE_DOWN_TIME,
            "periodic_fuzzy_delay": 0,  # see nova: first heartbeats and capability reports without delay
            "image_conversion_dir": str(d / "cinder" / "conversion"),
            "osapi_volume_workers": 1,
            # Default 60: cinder-scheduler waits (without heartbeats) until every backend whose record
            # is up has sent its capabilities; the VMDK backend never does while the vCenter is away.
            "scheduler_driver_init_wait_time": 10,
        },
        "database": {"connection": db_url(layout, s, "cinder")},
        "keystone_authtoken": _authtoken(layout, s, "cinder"),
        "nova": {**_auth(layout, s, "cinder"), "interface": "public"},
        "service_user": _auth(layout, s, "cinder", send_service_user_token=True),
        "oslo_concurrency": _lock(layout, "cinder"),
        "oslo_messaging_notifications": {"driver": "noop"},
        # Cinder inspects images in a privsep daemon, by default started through sudo and rootwrap. The
        # lab runs as root without either: start privsep-helper from the venv directly.
        **{
            section: {"helper_command": f"{layout.venv_bin / 'privsep-helper'} --config-file {cinder_conf}"}
            for section in ("cinder_sys_admin", "privsep_osbrick")
        },
        CINDER_BACKEND: {
            "volume_driver": "stackproof_lab_plugins.volume.LabFileVolumeDriver",
            "volume_backend_name": CINDER_BACKEND,
            "lab_volumes_dir": str(d / "cinder" / CINDER_BACKEND),
            "lab_export": f"{HOST}:{d / 'cinder' / CINDER_BACKEND}",
        },
        # Cinder's own VMDK driver: a volume is a virtual disk of a powered-off "backing" VM, created
        # (lazily, at first attach) on a datastore the instance's host sees; nova's VMware driver
        # attaches that disk to the instance's VM (connection info driver_volume_type vmdk).
        VMDK_BACKEND: {
            "volume_driver": "cinder.volume.drivers.vmware.vmdk.VMwareVcVmdkDriver",
            "volume_backend_name": VMDK_BACKEND,
            "vmware_host_ip": HOST,
            "vmware_host_port": layout.port("vcenter"),
            "vmware_host_username": VCENTER_USER,
            "vmware_host_password": s["vcenter"],
            "vmware_ca_file": str(vcenter_build.ca_file(layout.state)),
            "vmware_insecure": False,
            # The clusters nova manages (a multi-valued option: one line per cluster).
            "vmware_cluster_name": list(VMWARE_COMPUTES.values()),
            "vmware_datastore_regex": CINDER_DATASTORE_REGEX,
        },
    }

    files["mariadb"] = {
        "mysqld": {
            "datadir": str(d / "mariadb"),
            "socket": str(layout.mariadb_socket),
            "pid-file": str(layout.run / "mariadbd.pid"),
            "port": layout.port("mariadb"),
            "bind-address": HOST,
            "user": "root",
            "skip-name-resolve": None,
            "skip-log-bin": None,
            "character-set-server": "utf8mb4",
            "max_connections": 1000,
            # A small, disposable database: no fsync per commit, small buffers (RSS budget).
            "innodb_buffer_pool_size": "64M",
            "innodb_log_file_size": "48M",
            "innodb_flush_log_at_trx_commit": 0,
            "innodb_doublewrite": 0,
            "sync_binlog": 0,
            "performance_schema": "OFF",
            "key_buffer_size": "8M",
            # Health probes close without logging in; level 1 keeps them out of the log.
            "log_warnings": 1,
        },
        "client": {"socket": str(layout.mariadb_socket), "port": layout.port("mariadb")},
    }
    files["rabbitmq"] = {
        "": {
            "listeners.tcp.default": f"{HOST}:{layout.port('rabbitmq')}",
            "loopback_users.guest": "true",
            "log.console": "true",
            "log.file": "false",
            "vm_memory_high_watermark.absolute": "512MB",
            "disk_free_limit.absolute": "50MB",
        }
    }
    return files


def _merge(base: Sections, extra: Sections) -> Sections:
    merged = {section: dict(options) for section, options in base.items()}
    for section, options in extra.items():
        merged.setdefault(section, {}).update(options)
    return merged


def apply_overrides(files: dict[str, Sections], overrides: Overrides) -> dict[str, Sections]:
    """Baseline plus fault overrides; an override value of None removes the option."""
    result = {cid: _merge(sections, {}) for cid, sections in files.items()}
    for cid, sections in overrides.items():
        for section, options in sections.items():
            target = result.setdefault(cid, {}).setdefault(section, {})
            for option, value in options.items():
                if value is None:
                    target.pop(option, None)
                else:
                    target[option] = value
    return result


def render(sections: Sections, *, flat: bool = False) -> str:
    """INI text (or ``key = value`` lines for RabbitMQ's sysctl-like format when ``flat``)."""
    lines = ["# Written by the stackproof lab (python -m stackproof_lab up); edits are overwritten."]
    for section, options in sections.items():
        if not flat:
            lines.append(f"\n[{section}]")
        for option, value in options.items():
            if value is None:
                lines.append(option)  # a bare flag (my.cnf)
            elif isinstance(value, list):
                lines.extend(f"{option} = {item}" for item in value)  # oslo.config MultiStrOpt
            elif isinstance(value, bool):
                lines.append(f"{option} = {'true' if value else 'false'}")
            else:
                lines.append(f"{option} = {value}")
    return "\n".join(lines) + "\n"


_DIR_OPTIONS = (
    "state_path",
    "instances_path",
    "lock_path",
    "filesystem_store_datadir",
    "lab_volumes_dir",
    "image_conversion_dir",
    "datadir",
)


def _make_data_dirs(files: dict[str, Sections]) -> None:
    """Services expect their state and lock folders to exist (nova-compute dies writing compute_id)."""
    for sections in files.values():
        for options in sections.values():
            for option in _DIR_OPTIONS:
                if isinstance(options.get(option), str):
                    Path(str(options[option])).mkdir(parents=True, exist_ok=True)


def write_all(layout: Layout, overrides: Overrides) -> list[str]:
    """Render every config file; returns the ids whose content changed."""
    files = apply_overrides(baseline(layout), overrides)
    changed = []
    for cid, path in config_paths(layout).items():
        text = render(files[cid], flat=(cid == "rabbitmq"))
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if path.read_text() == text:
                continue
        except FileNotFoundError:
            pass
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o600)  # holds passwords
        tmp.replace(path)
        changed.append(cid)
    _make_data_dirs(files)
    rabbit_dir = config_paths(layout)["rabbitmq"].parent
    # No plugins (the management UI alone costs ~60 MB and a listener).
    (rabbit_dir / "enabled_plugins").write_text("[].\n")
    (rabbit_dir / "rabbitmq-env.conf").write_text("# the lab sets its environment on the command line\n")
    return changed
