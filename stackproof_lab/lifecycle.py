"""``up``, ``down`` and ``status``: the lab's life cycle, as declared steps run by one runner.

``up`` converges: it installs what is missing, renders configs, makes the hosts, starts what is not
running and provisions once. Each service declares what must be done before it starts (services.py
``after``); the bootstrap steps (schemas, the MariaDB data dir, keystone's identity, the vCenter build)
are declared here. The runner (runner.py) starts each step as soon as its needs are done. A fault's clear
and "the vCenter is back" run the same steps (``converge``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from stackproof_lab import (
    bootstrap,
    configs,
    faults,
    hostnet,
    install,
    nested,
    processes,
    provision,
    runner,
    services,
    ssh,
    target,
    topology,
)
from stackproof_lab.errors import LabError
from stackproof_lab.layout import Layout
from stackproof_lab.progress import Progress
from stackproof_lab.vcenter import build as vcenter_build

# Bootstrap steps no service waits for, done before ``up`` says the lab is ready (a lab provisioned
# before one was declared runs it at its next ``up``).
LATE_BOOTSTRAPS = ("glance-metadefs",)
START_TIMEOUT = 240  # seconds for one service to answer after start, on a busy 2-core machine


class Context:
    """What the steps of one run share: the lab, its progress lines and what active faults hold back."""

    def __init__(self, layout: Layout, progress: Progress, *, restart_vcenter_clients: bool = False) -> None:
        self.layout = layout
        self.progress = progress
        self.suppressed = faults.suppressed_services(layout)
        self.vcenter_started = restart_vcenter_clients

    def held(self, name: str) -> bool:
        """Stopped by an active fault, or needing a service one keeps stopped."""
        return name in self.suppressed or bool(set(services.get(name).needs) & self.suppressed)


def _service_step(ctx: Context, service: services.Service) -> runner.Step:
    def run() -> str | None:
        if ctx.held(service.name):
            return "left stopped (fault active)"
        started = processes.read_record(ctx.layout.run, service.name) is None
        if started:
            services.start(ctx.layout, service)
            if service.name == "vcenter":
                ctx.vcenter_started = True
        services.wait_healthy(ctx.layout, service, timeout=START_TIMEOUT)
        if started and service.warm_up is not None:
            service.warm_up(ctx.layout)
        return "started, healthy" if started else None

    return runner.Step(service.name, run, ("hosts", *service.after))


def _vcenter_ready(ctx: Context) -> str | None:
    """A vCenter that (re)started begins from its baseline inventory: active vSphere faults are made
    again, and clients still running from before hold references it does not know: they restart."""
    if not ctx.vcenter_started or "vcenter" in ctx.suppressed:
        return None
    notes = faults.reassert_vcenter_faults(ctx.layout)
    stale = [n for n in services.VCENTER_CLIENTS if processes.read_record(ctx.layout.run, n) is not None]
    with ThreadPoolExecutor(max_workers=len(stale) or 1) as pool:
        stopped = list(pool.map(lambda n: f"{n} {services.stop(ctx.layout, services.get(n))}", stale))
    return "; ".join([*notes, *stopped]) or None


def steps(ctx: Context) -> dict[str, runner.Step]:
    """Every step of the lab, by name."""
    layout = ctx.layout

    def timed(what: Callable[[], object]) -> Callable[[], str | None]:
        def run() -> str | None:
            began = time.monotonic()
            note = what()
            took = time.monotonic() - began
            if took < 0.5 and not note:
                return None
            return f"done in {took:.1f}s" + (f" ({note})" if isinstance(note, str) and note else "")

        return run

    def bootstrap_step(name: str, action: Callable[[Layout], object], *needs: str) -> runner.Step:
        return runner.Step(name, timed(lambda: action(layout)), ("hosts", *needs))

    def hosts() -> str:
        note = hostnet.ensure(layout, faults.data_nic_states(layout))
        ssh.ensure(layout)
        for note_ in faults.reassert_host_faults(layout):
            ctx.progress.say(f"fault {note_}")
        return note

    def identity(_layout: Layout) -> None:
        if not bootstrap.done(layout, "identity"):
            provision.identity(layout)
            bootstrap.mark(layout, "identity")

    def mariadb_datadir() -> str:
        return "new data dir" if bootstrap.init_mariadb(layout) else ""

    def enable_vmware() -> str:
        if "vcenter" in ctx.suppressed:
            return ""
        # A VMware compute that lost the vCenter disabled its service and never lifts that itself.
        return "; ".join(faults.enable_vmware_services(layout))

    def provisioned() -> str:
        if bootstrap.done(layout, provision.STAMP):
            return ""
        note = provision.architecture(layout, ctx.progress.say)
        bootstrap.mark(layout, provision.STAMP)
        return note

    table = [
        runner.Step("configuration", timed(lambda: _configure(layout)), ()),
        runner.Step("hosts", timed(hosts), ("configuration",)),
        bootstrap_step("mariadb-datadir", lambda _l: mariadb_datadir()),
        bootstrap_step("databases", bootstrap.create_databases, "mariadb"),
        bootstrap_step("keystone-schema", bootstrap.keystone_schema, "databases"),
        bootstrap_step("identity", identity, "keystone", "keystone-bootstrap"),
        bootstrap_step("keystone-bootstrap", bootstrap.keystone_bootstrap, "keystone-schema"),
        bootstrap_step("glance-schema", bootstrap.glance, "databases"),
        bootstrap_step("glance-metadefs", bootstrap.glance_metadefs, "glance-schema"),
        bootstrap_step("placement-schema", bootstrap.placement, "databases"),
        bootstrap_step("nova-schema", bootstrap.nova, "databases"),
        bootstrap_step("neutron-schema", bootstrap.neutron, "databases"),
        bootstrap_step("cinder-schema", bootstrap.cinder, "databases"),
        runner.Step("vcenter-build", timed(lambda: _build_vcenter(layout))),
        runner.Step("vcenter-ready", lambda: _vcenter_ready(ctx), ("vcenter",)),
        *(_service_step(ctx, service) for service in services.SERVICES),
        runner.Step("provision", timed(provisioned), tuple(s.name for s in services.SERVICES)),
        runner.Step("vmware-services-enabled", enable_vmware, ("provision",)),
        runner.Step("target files", timed(lambda: target.write(layout)),
                    ("provision", "vmware-services-enabled", *LATE_BOOTSTRAPS)),
    ]
    return {step.name: step for step in table}


def _build_vcenter(layout: Layout) -> None:
    try:
        vcenter_build.ensure_built(layout.state, layout.logs / "install.log")
    except vcenter_build.BuildError as exc:
        raise LabError(f"lab vCenter build: {exc}") from None


def _configure(layout: Layout) -> str:
    changed = configs.write_all(layout, faults.config_overrides(layout))
    restarted = _stop_readers_of(layout, changed)
    return f"restarting {', '.join(restarted)}" if restarted else ""


def converge(layout: Layout, targets: list[str], progress: Progress, *, vcenter_restarted: bool = False) -> None:
    """Bring ``targets`` (step names) and what they need to their declared state."""
    ctx = Context(layout, progress, restart_vcenter_clients=vcenter_restarted)
    runner.run(steps(ctx), targets, progress.say)


def _running_and_healthy(layout: Layout, skip: set[str]) -> bool:
    if not all(hostnet.running(layout, host) for host in hostnet.TOPOLOGY.hosts):
        return False
    beats = services.heartbeats(layout)
    return all(
        services.health(layout, service, beats) == "up" for service in services.SERVICES if service.name not in skip
    )


def up(layout: Layout) -> None:
    progress = Progress("lab up")
    layout.ensure_dirs()
    install_log = layout.logs / "install.log"
    with progress.step("debian packages") as info:
        info["note"] = install.install_apt(install_log, progress)
    with progress.step("lab virtualenv") as info:
        info["note"] = install.install_venv(layout, install_log, progress)
    suppressed = faults.suppressed_services(layout)
    settled = all(bootstrap.done(layout, stamp) for stamp in (provision.STAMP, *LATE_BOOTSTRAPS))
    if settled and _running_and_healthy(layout, suppressed):
        with progress.step("configuration") as info:
            info["note"] = _configure(layout)
        if not info["note"]:
            with progress.step("lab already running and healthy; target files"):
                ssh.ensure(layout)
                target.write(layout)
            progress.total()
            return
    converge(layout, ["target files"], progress)
    progress.total()


def up_nested(layout: Layout) -> None:
    """``up --nested``: the overcloud in this lab's instances, then the target files that describe both clouds."""
    nested.up(layout)
    with Progress("lab up --nested").step("target files with the nested cloud"):
        ssh.ensure(layout)
        target.write(layout)


def down_nested(layout: Layout) -> None:
    """``down --nested``: the overcloud goes, with its servers in this lab; the target files describe this lab
    alone again."""
    nested.remove(layout)
    ssh.ensure(layout)
    target.write(layout)


def _stop_readers_of(layout: Layout, changed: list[str]) -> list[str]:
    """Stop running services whose config file changed, so that ``up`` starts them with it."""
    names = {name for cid in changed for name in configs.readers(cid)}
    running = [services.get(n) for n in sorted(names) if processes.read_record(layout.run, n) is not None]
    if running:
        with ThreadPoolExecutor(max_workers=len(running)) as pool:
            list(pool.map(lambda service: services.stop(layout, service), running))
    return [service.name for service in running]


def down(layout: Layout) -> None:
    if not topology.NESTED:
        # An overcloud in this lab's instances goes first: its hosts' processes live in their namespaces.
        nested.down(layout)
    progress = Progress("lab down")
    # The data stores, the vCenter and the NSX manager go after their clients; the hosts (and whatever still runs
    # in them, such as epmd or a volume connector) last.
    infra_names = ("mariadb", "rabbitmq", "vcenter", "nsx-manager")
    openstack = [s for s in (*services.SERVICES, *services.ON_DEMAND)
                 if s.name not in infra_names and not s.name.startswith("sshd-")]
    infra = [services.get(name) for name in infra_names if name in services.BY_NAME]
    for group in (openstack, infra):
        with ThreadPoolExecutor(max_workers=len(group)) as pool:
            notes = list(pool.map(lambda s: (s.name, services.stop(layout, s)), group))
        for name, note in notes:
            if note != "not running":
                progress.say(f"{name}: {note}")
    with progress.step("hosts and networks") as info:
        info["note"] = hostnet.remove(layout)
        for service in services.SERVICES:
            processes.pid_file(layout.run, service.name).unlink(missing_ok=True)
    progress.total()


def status(layout: Layout) -> list[dict[str, object]]:
    """One row per service: name, host, pid, port, health, rss (bytes)."""
    beats = services.heartbeats(layout) if processes.read_record(layout.run, "mariadb") else {}
    rows = []
    for service in services.SERVICES:
        record = processes.read_record(layout.run, service.name)
        pids = processes.group_members(record.pid) if record else []
        rows.append(
            {
                "service": service.name,
                "host": service.host,
                "pid": record.pid if record else None,
                "port": layout.port(service.port) if service.port else None,
                "health": services.health(layout, service, beats),
                "rss": processes.rss_bytes(pids),
            }
        )
    for host in hostnet.TOPOLOGY.hosts:
        record = processes.read_record(layout.run, hostnet.init_record_name(host))
        pids = [record.pid, *processes.children(record.pid)] if record else []
        rows.append({"service": f"host {host.name}", "host": host.name, "pid": record.pid if record else None,
                     "port": None, "health": "up" if hostnet.running(layout, host) else "down",
                     "rss": processes.rss_bytes(pids)})
    return rows
