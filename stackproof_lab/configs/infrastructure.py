"""The controller's MariaDB and RabbitMQ, and the storage host's NFS server (nfs-ganesha)."""

from __future__ import annotations

from stackproof_lab import topology
from stackproof_lab.configs.cinder import KVM_VOLUMES
from stackproof_lab.configs.ini import Sections
from stackproof_lab.configs.openstack import RABBIT_USER
from stackproof_lab.layout import Layout


def mariadb(layout: Layout, password: dict[str, str]) -> Sections:
    return {
        "mysqld": {
            "datadir": str(layout.data / "mariadb"),
            "socket": str(layout.mariadb_socket),
            "pid-file": str(layout.run / "mariadbd.pid"),
            "port": layout.port("mariadb"),
            "bind-address": layout.controller,
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


def rabbitmq(layout: Layout, password: dict[str, str]) -> Sections:
    return {
        "": {
            "listeners.tcp.default": f"{layout.controller}:{layout.port('rabbitmq')}",
            # The lab's own account (made when the node first starts), for clients on other hosts.
            "default_user": RABBIT_USER,
            "default_pass": password["rabbitmq"],
            "loopback_users.guest": "true",
            "log.console": "true",
            "log.file": "false",
            "vm_memory_high_watermark.absolute": "512MB",
            "disk_free_limit.absolute": "50MB",
        }
    }


def ganesha(layout: Layout, password: dict[str, str]) -> str:
    """nfs-ganesha's config: NFSv3 over TCP on the storage network only, one export (the KVM backend's
    volumes), root not squashed (the computes' volume connectors run as root, as libvirt's do)."""
    return f"""# Written by the stackproof lab (python -m stackproof_lab up); edits are overwritten.
NFS_CORE_PARAM {{
    Protocols = 3;
    Bind_addr = {topology.STORAGE_SERVER};
    Enable_NLM = false;
    Enable_RQUOTA = false;
}}
NFSV4 {{ Graceless = true; }}
EXPORT {{
    Export_Id = 1;
    Path = {KVM_VOLUMES};
    Pseudo = {KVM_VOLUMES};
    Protocols = 3;
    Transports = TCP;
    Access_Type = RW;
    Squash = No_Root_Squash;
    SecType = sys;
    FSAL {{ Name = VFS; }}
}}
LOG {{ Default_Log_Level = EVENT; }}
"""
