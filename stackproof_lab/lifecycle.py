"""``up``, ``down`` and ``status``: the lab's life cycle.

``up`` converges: it installs what is missing, renders configs, starts what is not running and
provisions once. Independent chains (one per OpenStack service) run in parallel threads; the
dependencies between them are milestones with bounded waits (e.g. computes start after the conductor
and Keystone's service users exist, or each compute loses time on its first report; the VMware
computes and cinder-volume's VMDK backend start once the lab vCenter answers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from stackproof_lab import bootstrap, config, data_network, faults, install, processes, provision, services, target
from stackproof_lab.errors import LabError
from stackproof_lab.layout import Layout
from stackproof_lab.progress import Progress
from stackproof_lab.vcenter import build as vcenter_build

START_TIMEOUT = 240  # seconds for one service to answer after start, on a busy 2-core machine
MILESTONE_TIMEOUT = 420


class Milestones:
    """Named events between the parallel chains; a failed chain releases every waiter at once."""

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.failed = threading.Event()

    def _event(self, name: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(name, threading.Event())

    def reach(self, name: str) -> None:
        self._event(name).set()

    def wait(self, name: str, timeout: float = MILESTONE_TIMEOUT) -> None:
        event = self._event(name)
        deadline = time.monotonic() + timeout
        while not event.wait(0.2):
            if self.failed.is_set():
                raise LabError(f"abandoned waiting for {name}: another step failed")
            if time.monotonic() > deadline:
                raise LabError(f"gave up after {timeout:.0f}s waiting for {name}")


def _running_and_healthy(layout: Layout, skip: set[str]) -> bool:
    beats = services.heartbeats(layout)
    return all(
        services.health(layout, service, beats) == "up" for service in services.SERVICES if service.name not in skip
    )


def up(layout: Layout) -> None:
    progress = Progress("lab up")
    layout.ensure_dirs()
    install_log = layout.logs / "install.log"
    with progress.step("debian packages") as info:
        info["note"] = install.install_apt(install_log)
    with progress.step("lab virtualenv") as info:
        info["note"] = install.install_venv(layout, install_log)
    suppressed = faults.suppressed_services(layout)
    with progress.step("configuration") as info:
        changed = config.write_all(layout, faults.config_overrides(layout))
        restarted = _stop_readers_of(layout, changed)
        info["note"] = f"restarting {', '.join(restarted)}" if restarted else ""
    with progress.step("data network") as info:
        info["note"] = data_network.ensure(faults.data_nic_overrides(layout))

    if bootstrap.done(layout, provision.STAMP) and _running_and_healthy(layout, suppressed):
        with progress.step("lab already running and healthy; target files"):
            target.write(layout)
        progress.total()
        return

    with progress.step("mariadb and rabbitmq") as info:
        if bootstrap.init_mariadb(layout):
            info["note"] = "new data dir"
        services.start(layout, services.get("mariadb"))
        services.start(layout, services.get("rabbitmq"))
        services.wait_healthy(layout, services.get("mariadb"), timeout=60)
        bootstrap.create_databases(layout)

    milestones = Milestones()

    def held(name: str) -> bool:
        # Stopped by an active fault, or needing a service one keeps stopped (a VMware compute cut off
        # from the vCenter dies at start).
        return name in suppressed or bool(set(services.get(name).needs) & suppressed)

    def launch(name: str) -> None:
        if held(name):
            progress.say(f"{name}: left stopped (fault active)")
            return
        if processes.read_record(layout.run, name) is None:
            services.start(layout, services.get(name))
            progress.say(f"{name}: started")

    def healthy(name: str) -> None:
        if not held(name):
            services.wait_healthy(layout, services.get(name), timeout=START_TIMEOUT)
            progress.say(f"{name}: healthy")

    def start(name: str) -> None:
        launch(name)
        healthy(name)

    def rabbitmq() -> None:
        services.wait_healthy(layout, services.get("rabbitmq"), timeout=120)
        progress.say("rabbitmq: healthy")
        milestones.reach("rabbitmq")

    def keystone() -> None:
        with progress.step("keystone schema and bootstrap"):
            bootstrap.keystone(layout)
        start("keystone")
        with progress.step("keystone projects, users and catalog"):
            provision.identity(layout)
        milestones.reach("identity")

    def glance() -> None:
        with progress.step("glance schema"):
            bootstrap.glance(layout)
        start("glance-api")

    def placement() -> None:
        with progress.step("placement schema"):
            bootstrap.placement(layout)
        start("placement-api")
        milestones.reach("placement")

    def vcenter() -> None:
        with progress.step("lab vCenter build") as info:
            began = time.monotonic()
            vcenter_build.ensure_built(layout.state, install_log)
            info["note"] = "cached" if time.monotonic() - began < 1 else "built"
        fresh = processes.read_record(layout.run, "vcenter") is None
        start("vcenter")
        for host in config.VMWARE_COMPUTES:
            start(f"vcenter-link-{host}")
        if fresh and "vcenter" not in suppressed:
            # It starts from its baseline inventory: active vSphere faults are made again, and clients
            # still running from before (it had died) hold references it does not know: they restart.
            for note in faults.reassert_vcenter_faults(layout):
                progress.say(f"fault {note}")
            stale = [n for n in services.VCENTER_CLIENTS if processes.read_record(layout.run, n) is not None]
            with ThreadPoolExecutor(max_workers=len(stale) or 1) as pool:
                stopped = list(pool.map(lambda n: (n, services.stop(layout, services.get(n))), stale))
            for name, note in stopped:
                progress.say(f"{name}: {note} (the vCenter restarted)")
        milestones.reach("vcenter")

    def nova() -> None:
        with progress.step("nova schemas and cells"):
            bootstrap.nova(layout)
        milestones.wait("rabbitmq")
        for name in ("nova-conductor", "nova-scheduler", "nova-api"):
            launch(name)
        # The conductor first: a compute that starts before it loses ~10 s on its first report.
        healthy("nova-conductor")
        milestones.wait("identity")
        milestones.wait("placement")
        kvm = [f"nova-compute-{host}" for host in config.KVM_COMPUTES]
        for name in kvm:
            launch(name)
        # A VMware compute dies at start if vCenter does not answer.
        milestones.wait("vcenter")
        vmware = [f"nova-compute-{host}" for host in config.VMWARE_COMPUTES]
        for name in vmware:
            launch(name)
        for name in ("nova-scheduler", "nova-api", *kvm, *vmware):
            healthy(name)

    def neutron() -> None:
        # Neutron's driver realises everything in the lab NSX manager: it answers first.
        start("nsx-manager")
        with progress.step("neutron schema"):
            bootstrap.neutron(layout)
        start("neutron-api")

    def cinder() -> None:
        with progress.step("cinder schema"):
            bootstrap.cinder(layout)
        milestones.wait("rabbitmq")
        for name in ("cinder-api", "cinder-scheduler"):
            launch(name)
        # Its VMDK backend logs in to vCenter at start and stays uninitialised if it cannot.
        milestones.wait("vcenter")
        launch("cinder-volume")
        for name in ("cinder-api", "cinder-scheduler", "cinder-volume"):
            healthy(name)

    _run_parallel([rabbitmq, vcenter, keystone, glance, placement, nova, neutron, cinder], milestones)

    if not bootstrap.done(layout, provision.STAMP):
        with progress.step("provision the architecture") as info:
            info["note"] = provision.architecture(layout, progress.say)
            bootstrap.mark(layout, provision.STAMP)
    if "vcenter" not in suppressed:
        # A VMware compute that lost the vCenter (it had died) disabled its service and never lifts that.
        for note in faults.enable_vmware_services(layout):
            progress.say(note)
    with progress.step("clouds.yaml and stackproof.yaml"):
        target.write(layout)
    progress.total()


def _run_parallel(chains: list[Callable[[], None]], milestones: Milestones) -> None:
    errors: list[BaseException] = []

    def guarded(chain: Callable[[], None]) -> None:
        try:
            chain()
        except BaseException as exc:
            errors.append(exc)
            milestones.failed.set()

    with ThreadPoolExecutor(max_workers=len(chains)) as pool:
        for chain in chains:
            pool.submit(guarded, chain)
    if errors:
        first = next((e for e in errors if not str(e).startswith("abandoned")), errors[0])
        raise first


def _stop_readers_of(layout: Layout, changed: list[str]) -> list[str]:
    """Stop running services whose config file changed, so that ``up`` starts them with it."""
    names = {name for cid in changed for name in services.CONFIG_READERS.get(cid, ())}
    running = [services.get(n) for n in sorted(names) if processes.read_record(layout.run, n) is not None]
    if running:
        with ThreadPoolExecutor(max_workers=len(running)) as pool:
            list(pool.map(lambda service: services.stop(layout, service), running))
    return [service.name for service in running]


def down(layout: Layout) -> None:
    progress = Progress("lab down")
    # The vCenter goes with the infrastructure, after its clients.
    infra_names = ("mariadb", "rabbitmq", "vcenter")
    openstack = [s for s in (*services.SERVICES, *services.ON_DEMAND) if s.name not in infra_names]
    infra = [services.get(name) for name in infra_names]
    for group in (openstack, infra):
        with ThreadPoolExecutor(max_workers=len(group)) as pool:
            notes = list(pool.map(lambda s: (s.name, services.stop(layout, s)), group))
        for name, note in notes:
            if note != "not running":
                progress.say(f"{name}: {note}")
    with progress.step("no listener left on the lab's ports") as info:
        info["note"] = _sweep_listeners(layout)
    with progress.step("data network") as info:
        info["note"] = data_network.remove()
    progress.total()


def _sweep_listeners(layout: Layout) -> str:
    """Stop leftovers the lab started outside its process groups (epmd daemonises itself)."""
    ports = services.all_ports(layout)
    swept = []
    deadline = time.monotonic() + 15
    while True:
        left = processes.listeners(ports)
        if not left:
            return f"swept {', '.join(swept)}" if swept else ""
        if time.monotonic() > deadline:
            raise LabError(f"gave up after 15s waiting for ports {sorted(left)} to close")
        for port, pids in left.items():
            for pid in pids:
                cmdline = _cmdline(pid)
                if "epmd" in cmdline or str(layout.state) in cmdline:
                    processes.stop_pid(pid)
                    swept.append(f"{cmdline.split()[0] if cmdline else pid} on {port}")
                else:
                    raise LabError(f"port {port} is held by pid {pid} ({cmdline[:80]}), which the lab did not start")
        time.sleep(0.3)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def status(layout: Layout) -> list[dict[str, object]]:
    """One row per service: name, pid, port, health, rss (bytes)."""
    beats = services.heartbeats(layout) if processes.read_record(layout.run, "mariadb") else {}
    rows = []
    for service in services.SERVICES:
        record = processes.read_record(layout.run, service.name)
        pids = processes.group_members(record.pid) if record else []
        if record and service.extra_ports:
            extra = processes.listeners({layout.port(p) for p in service.extra_ports})
            pids += [pid for found in extra.values() for pid in found if pid not in pids]
        rows.append(
            {
                "service": service.name,
                "pid": record.pid if record else None,
                "port": layout.port(service.port) if service.port else None,
                "health": services.health(layout, service, beats),
                "rss": processes.rss_bytes(pids),
            }
        )
    return rows
