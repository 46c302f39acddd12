"""Every config file of the lab, declared: which host holds it at which production path, and what renders it.

Each file is a dict of sections (configs/ini.py). A fault that changes an option records an override
(``{config id: {section: {option: value or None}}}``) and the file is rendered again with it, so ``up``
after a fault keeps the fault and clearing it restores the exact baseline. Option choices that are not
defaults say why next to them, in the renderer of their service.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stackproof_lab import passwords, topology
from stackproof_lab.configs import cinder, dataplane, glance, infrastructure, keystone, neutron, nova, placement
from stackproof_lab.configs.ini import Overrides, Sections, apply_overrides, render
from stackproof_lab.layout import Layout
from stackproof_lab.topology import CONTROLLER, STORAGE, TOPOLOGY

Renderer = Callable[[Layout, dict[str, str]], Sections | str]


@dataclass(frozen=True)
class ConfigFile:
    id: str
    host: str
    path: str  # where the host's services read it
    render: Renderer
    readers: tuple[str, ...]  # services restarted when it changes
    flat: bool = False  # RabbitMQ's key = value format

    def local(self, layout: Layout) -> Path:
        """The state-dir file behind it (bind-mounted at ``path`` inside the host)."""
        return TOPOLOGY.get(self.host).local(layout, self.path)


def _compute(name: str) -> Renderer:
    return lambda layout, password: nova.compute(layout, password, name)


def _node_agent(host: str) -> Renderer:
    return lambda layout, password: dataplane.node_agent(layout, host)


def _cinder(host: str) -> Renderer:
    return lambda layout, password: cinder.cinder(layout, password, host)


TWIN_CONF = f"/etc/nova/nova-{topology.TWIN_COMPUTE}.conf"
TWIN_SCHEDULER_CONF = "/etc/nova/nova-scheduler.conf"


def _twin_scheduler(layout: Layout, password: dict[str, str]) -> Sections:
    return nova.scheduler_elsewhere(layout, password, topology.KVM_COMPUTES[1])

FILES: list[ConfigFile] = [
    ConfigFile("keystone", CONTROLLER, "/etc/keystone/keystone.conf", keystone.keystone, ("keystone",)),
    ConfigFile("glance", CONTROLLER, "/etc/glance/glance-api.conf", glance.glance, ("glance-api",)),
    ConfigFile("placement", CONTROLLER, "/etc/placement/placement.conf", placement.placement, ("placement-api",)),
    ConfigFile("nova", CONTROLLER, "/etc/nova/nova.conf", nova.controller,
               ("nova-api", "nova-conductor", "nova-scheduler")),
    *(ConfigFile(f"nova-{name}", name, "/etc/nova/nova.conf", _compute(name), (f"nova-compute-{name}",))
      for name in (*topology.KVM_COMPUTES, *topology.VMWARE_COMPUTES)),
    *([ConfigFile(f"nova-{topology.TWIN_COMPUTE}", CONTROLLER, TWIN_CONF,
                  lambda layout, password: nova.compute(layout, password, topology.TWIN_COMPUTE, on=CONTROLLER,
                                                        state_path=f"/var/lib/nova/{topology.TWIN_COMPUTE}"),
                  (f"nova-compute-{topology.TWIN_COMPUTE}",))] if topology.VMWARE else []),
    *([ConfigFile(topology.TWIN_SCHEDULER, topology.KVM_COMPUTES[1], TWIN_SCHEDULER_CONF, _twin_scheduler,
                  (topology.TWIN_SCHEDULER,))] if topology.NESTED else []),
    ConfigFile("neutron", CONTROLLER, "/etc/neutron/neutron.conf", neutron.neutron, ("neutron-api",)),
    ConfigFile("ml2", CONTROLLER, "/etc/neutron/plugins/ml2/ml2_conf.ini", neutron.ml2, ("neutron-api",)),
    *([ConfigFile("cinder", CONTROLLER, cinder.CONF, _cinder(CONTROLLER), ("cinder-api", "cinder-scheduler")),
       ConfigFile("cinder-filters", CONTROLLER, cinder.RESOURCE_FILTERS, cinder.resource_filters, ("cinder-api",)),
       ConfigFile("cinder-storage", STORAGE, cinder.CONF, _cinder(STORAGE), ("cinder-volume",)),
       ConfigFile("ganesha", STORAGE, "/etc/ganesha/ganesha.conf", infrastructure.ganesha, ("nfs-ganesha",)),
       ] if topology.BLOCK_STORAGE else []),
    ConfigFile("mariadb", CONTROLLER, "/etc/mysql/my.cnf", infrastructure.mariadb, ("mariadb",)),
    ConfigFile("rabbitmq", CONTROLLER, "/etc/rabbitmq/rabbitmq.conf", infrastructure.rabbitmq, ("rabbitmq",),
               flat=True),
    *(ConfigFile(f"nsx-agent-{h.name}", h.name, dataplane.CONF, _node_agent(h.name), (f"nsx-node-agent-{h.name}",))
      for h in TOPOLOGY.transport_nodes),
]
BY_ID = {f.id: f for f in FILES}

# Options naming folders a service expects to exist (nova-compute dies writing compute_id otherwise).
_DIR_OPTIONS = ("state_path", "instances_path", "lock_path", "filesystem_store_datadir", "lab_volumes_dir",
                "image_conversion_dir", "datadir")


def get(cid: str) -> ConfigFile:
    return BY_ID[cid]


def sections(layout: Layout, cid: str, overrides: Overrides | None = None) -> Sections:
    """A config file's sections as rendered now (baseline plus ``overrides``)."""
    rendered = BY_ID[cid].render(layout, passwords.load(layout))
    assert not isinstance(rendered, str), f"{cid} is not an INI file"
    return apply_overrides(rendered, (overrides or {}).get(cid, {}))


def _folders(config: ConfigFile, layout: Layout, files: Sections) -> None:
    host = TOPOLOGY.get(config.host)
    for options in files.values():
        for option in _DIR_OPTIONS:
            value = options.get(option)
            if isinstance(value, str):
                path = value if value.startswith(str(layout.state)) else str(host.local(layout, value))
                Path(path).mkdir(parents=True, exist_ok=True)


def write_all(layout: Layout, overrides: Overrides) -> list[str]:
    """Render every config file into its host; returns the ids whose content changed."""
    password = passwords.load(layout)
    changed = []
    for config in FILES:
        rendered = config.render(layout, password)
        if isinstance(rendered, str):
            text = rendered
        else:
            files = apply_overrides(rendered, overrides.get(config.id, {}))
            text = render(files, flat=config.flat)
            _folders(config, layout, files)
        path = config.local(layout)
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
        changed.append(config.id)
    rabbit_dir = BY_ID["rabbitmq"].local(layout).parent
    # No plugins (the management UI alone costs ~60 MB and a listener).
    (rabbit_dir / "enabled_plugins").write_text("[].\n")
    (rabbit_dir / "rabbitmq-env.conf").write_text("# the lab sets its environment on the command line\n")
    return changed


def readers(cid: str) -> tuple[str, ...]:
    return BY_ID[cid].readers if cid in BY_ID else ()
