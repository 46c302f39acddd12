"""The lab's services: how each one starts, where it listens, how its health is judged, how it stops.

Health means "answers": an HTTP API answers any status below 500 on its root; MariaDB sends its
handshake; RabbitMQ answers the AMQP protocol header; the lab vCenter has written its endpoint file and
answers HTTPS verified with its CA; the lab NSX manager has written its endpoint file and answers its health call
over HTTPS verified with its CA; an RPC service (conductor, scheduler, compute, cinder
scheduler/volume) has service records whose heartbeats are younger than service_down_time.
"""

from __future__ import annotations

import configparser
import os
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from stackproof_lab import configs, hostnet, passwords, processes, provision, rest, topology
from stackproof_lab.configs.openstack import SERVICE_DOWN_TIME
from stackproof_lab.errors import LabError
from stackproof_lab.layout import REPO, Layout
from stackproof_lab.nsx import design as nsx_design
from stackproof_lab.nsx import lab as nsx_lab
from stackproof_lab.topology import CONTROLLER, STORAGE
from stackproof_lab.vcenter import build as vcenter_build
from stackproof_lab.vcenter import runtime as vcenter
from stackproof_lab.waiting import wait_for

# Set in the environment of a lab command that runs inside a host (lab-service): the host's name.
HOST_ENV = "STACKPROOF_LAB_HOST"


class Heartbeat(NamedTuple):
    """A service record whose heartbeat tells that (part of) a service works."""

    database: str
    binary: str
    host: str
    # A service without which this record is not expected to beat: cinder's VMDK backend, started
    # while the lab vCenter is stopped, never initialises and its record goes down (as a real one does).
    needs: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.database, self.binary, self.host)


@dataclass(frozen=True)
class Service:
    """One process the lab runs, inside one of its hosts."""

    name: str
    host: str  # the lab host it runs in
    family: str  # its log goes to /var/log/<family>/<unit>.log in the host
    argv: Callable[[Layout], list[str]]
    health: str  # "http" | "mariadb" | "amqp" | "vcenter" | "nsx" | "heartbeat" | "ssh" | "nfs" | "process"
    port: str | None = None  # layout port name of its listener
    env: Callable[[Layout], dict[str, str]] = field(default=lambda layout: {})
    # Its service records; all must be fresh (cinder-volume has one per backend).
    heartbeats: tuple[Heartbeat, ...] = ()
    grace: float = 10.0  # seconds between SIGTERM and SIGKILL on stop
    # Services it cannot start without (a VMware compute dies at start when vCenter does not answer).
    needs: tuple[str, ...] = ()
    unit: str = ""  # its name inside its host (`lab-service kill nova-compute`); default: name
    # Lab steps (services or bootstrap steps, lifecycle.py) done before it starts; its host always is.
    after: tuple[str, ...] = ()
    # Called once it is healthy after a start, before anyone else uses it (see _warm_up_neutron).
    warm_up: Callable[[Layout], None] | None = None

    @property
    def unit_name(self) -> str:
        return self.unit or self.name

    def log(self, layout: Layout) -> Path:
        return topology.TOPOLOGY.get(self.host).local(layout, f"/var/log/{self.family}/{self.unit_name}.log")


def _uwsgi(module: str, port: str, *, threads: int = 2, pyargv: str = "",
           extra: tuple[str, ...] = ()) -> Callable[[Layout], list[str]]:
    def argv(layout: Layout) -> list[str]:
        args = [
            str(layout.venv_bin / "uwsgi"),
            # One request per connection: uWSGI's HTTP/1.1 socket keeps an idle keep-alive connection in
            # its worker thread until the socket times out (4 s), so a few clients holding connections open
            # made every other request wait in 4 s steps, and a response without Content-Length (cinder's
            # 302 on /v3) waited the 4 s itself. The plain socket closes after each response; the
            # "Connection: close" header below tells clients so (without it keystoneauth reused the closed
            # connection and got "connection reset", lab-notes).
            "--http-socket",
            f"{layout.controller}:{layout.port(port)}",
            "--module",
            module,
            "--virtualenv",
            str(layout.venv),
            "--master",
            "--processes",
            "1",  # one worker per service: the lab's RSS budget is 3.5 GB
            "--threads",
            str(threads),
            "--enable-threads",
            # Load the app in the worker, not the master: the master stays small and a failing app
            # shows in the log instead of being forked.
            "--lazy-apps",
            "--need-app",
            "--die-on-term",
            "--hook-master-start",
            "unix_signal:15 gracefully_kill_them_all",
            "--worker-reload-mercy",
            "3",
            "--buffer-size",
            "65535",
            "--add-header",
            "Connection: close",
            "--procname-prefix-spaced",
            f"sp-lab:{port}",
        ]
        if pyargv:
            args += ["--pyargv", pyargv]
        return args + list(extra)

    return argv


def _venv_script(script: str, *args: str) -> Callable[[Layout], list[str]]:
    def argv(layout: Layout) -> list[str]:
        return [str(layout.venv_bin / script), *args]

    return argv


def _dir_env(variable: str, folder: str) -> Callable[[Layout], dict[str, str]]:
    def env(layout: Layout) -> dict[str, str]:
        return {variable: folder}

    return env


def _nova_api_env(layout: Layout) -> dict[str, str]:
    # nova-api loads paste from the *first* file of its list (wsgi_app.init_application), so the
    # paste file goes first; an absolute path survives os.path.join with the config dir.
    paste = layout.venv / "etc" / "nova" / "api-paste.ini"
    return {"OS_NOVA_CONFIG_DIR": "/etc/nova", "OS_NOVA_CONFIG_FILES": f"{paste};nova.conf"}


def _mariadb_argv(layout: Layout) -> list[str]:
    return ["/usr/sbin/mariadbd", "--defaults-file=/etc/mysql/my.cnf"]


def _rabbitmq_argv(layout: Layout) -> list[str]:
    return ["/usr/lib/rabbitmq/bin/rabbitmq-server"]


def _rabbitmq_env(layout: Layout) -> dict[str, str]:
    etc = "/etc/rabbitmq"
    home = layout.data / "rabbitmq"
    return {
        # A node of our own: own name, ports, epmd, cookie ($HOME) and data; never the system node.
        "HOME": str(home),
        "RABBITMQ_NODENAME": "sp-lab@localhost",
        "RABBITMQ_USE_LONGNAME": "false",
        "RABBITMQ_NODE_IP_ADDRESS": layout.controller,
        "RABBITMQ_NODE_PORT": str(layout.port("rabbitmq")),
        "RABBITMQ_DIST_PORT": str(layout.port("rabbitmq-dist")),
        "ERL_EPMD_PORT": str(layout.port("epmd")),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "RABBITMQ_CONFIG_FILE": f"{etc}/rabbitmq.conf",
        "RABBITMQ_CONF_ENV_FILE": f"{etc}/rabbitmq-env.conf",
        "RABBITMQ_ENABLED_PLUGINS_FILE": f"{etc}/enabled_plugins",
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": "/var/log/rabbitmq",
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_PID_FILE": str(layout.run / "rabbitmq-beam.pid"),
    }


def _compute(host: str, *, vmware: bool, on: str | None = None, conf: str = "/etc/nova/nova.conf") -> Service:
    return Service(
        name=f"nova-compute-{host}",
        host=on or host,
        family="nova",
        # The KVM computes run nova-compute with nova.virt extended by the lab's drivers
        # (stackproof_lab/plugins); the VMware ones nova's own, whose driver is in nova's tree.
        argv=_venv_script("nova-compute" if vmware else "stackproof-lab-nova-compute", "--config-file", conf),
        health="heartbeat",
        heartbeats=(Heartbeat("nova_cell1", "nova-compute", host),),
        grace=8,
        needs=("vcenter",) if vmware else (),
        unit="nova-compute" if on is None else f"nova-compute-{host}",
        # The conductor first: a compute that starts before it loses ~10 s on its first report. A VMware
        # compute dies at start if vCenter does not answer.
        after=("nova-conductor", "identity", "placement-api", *(("vcenter-ready",) if vmware else ())),
    )


def _node_agent_argv(layout: Layout) -> list[str]:
    return [str(layout.venv_bin / "python"), "-m", "stackproof_lab.dataplane.agent", "--config",
            configs.dataplane.CONF]


def _node_agent_env(layout: Layout) -> dict[str, str]:
    return {"PYTHONPATH": str(REPO)}


# Open vSwitch on a KVM transport node, as NSX-T prepares one: its database, then the switch on the userspace
# datapath (this kernel has no openvswitch module). The node agent makes the nsx-managed bridge in it.
OVSDB = "/var/lib/openvswitch/conf.db"
OVS_RUN = "/run/openvswitch"


def _open_vswitch(host: str) -> list[Service]:
    ovsdb = _static("sh", "-c", f"mkdir -p {OVS_RUN} && {{ [ -f {OVSDB} ] || ovsdb-tool create {OVSDB} "
                    f"/usr/share/openvswitch/vswitch.ovsschema; }} && exec ovsdb-server {OVSDB} "
                    f"--remote=punix:{OVS_RUN}/db.sock --pidfile={OVS_RUN}/ovsdb-server.pid --no-chdir -vconsole:info")
    vswitchd = _static("sh", "-c", f"mkdir -p {OVS_RUN} && exec ovs-vswitchd unix:{OVS_RUN}/db.sock "
                       f"--pidfile={OVS_RUN}/ovs-vswitchd.pid --no-chdir -vconsole:info")
    return [Service(f"ovsdb-server-{host}", host, "openvswitch", ovsdb, "process", grace=3, unit="ovsdb-server"),
            Service(f"ovs-vswitchd-{host}", host, "openvswitch", vswitchd, "process", grace=3, unit="ovs-vswitchd",
                    needs=(f"ovsdb-server-{host}",), after=(f"ovsdb-server-{host}",))]


def _node_agent(host: topology.Host) -> Service:
    ovs = (f"ovs-vswitchd-{host.name}",) if "openvswitch" in host.families else ()
    return Service(f"nsx-node-agent-{host.name}", host.name, "nsx", _node_agent_argv, "process", env=_node_agent_env,
                   grace=3, unit="nsx-node-agent", needs=ovs, after=("neutron-api", "nsx-manager", *ovs))


def _sshd(host: str) -> Service:
    def argv(layout: Layout) -> list[str]:
        config = layout.hosts / host / "ssh" / "sshd_config"
        return ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)]

    return Service(f"sshd-{host}", host, "sshd", argv, "ssh", grace=3, unit="sshd")


def _vcenter_argv(layout: Layout) -> list[str]:
    # Built by `up` before it starts anything (cached by a hash of its sources: instant here).
    binary = vcenter_build.ensure_built(layout.state, layout.logs / "install.log")
    argv = vcenter.command(binary, layout.state, layout.port("vcenter"), layout.controller)
    # Its ESXi hosts are NSX transport nodes: they learn an opaque network per logical switch from the lab NSX
    # manager (stackproof_lab/vcenter/nsx.go).
    return [*argv, "-nsx-url", nsx_design.url(layout), "-nsx-ca", str(nsx_design.ca_file(layout))]


def vcenter_env(layout: Layout) -> dict[str, str]:
    """Credentials for the lab vCenter, and for its hosts' view of the NSX manager, in the environment (never on
    a command line)."""
    return {vcenter.USER_ENV: vcenter.USER, vcenter.PASSWORD_ENV: passwords.load(layout)["vcenter"],
            **{name: value for name, value in nsx_lab.env(layout).items() if name != "PYTHONPATH"}}


def _warm_up_neutron(layout: Layout) -> None:
    """One listing of each kind the checks read, alone: the first listings a fresh neutron-api worker serves
    concurrently race (one of two concurrent first GET /v2.0/networks as admin answered an empty list), and a
    check run right after a restart would read that. Best effort: on the very first start Keystone may not know
    the lab's users yet (nothing lists concurrently then)."""
    try:
        cloud = provision.admin(layout)
        for path in ("/networks", "/ports", "/security-groups"):
            cloud.call("network", "GET", path)
    except LabError:
        pass


def _static(*argv: str) -> Callable[[Layout], list[str]]:
    return lambda layout: list(argv)


CINDER_CONF = ("--config-file", "/etc/cinder/cinder.conf")
NOVA_CONF = ("--config-file", "/etc/nova/nova.conf")

def _block_storage() -> list[Service]:
    """Cinder, and the storage host's NFS server for its KVM backend: a lab profile may go without them."""
    return [
        Service("cinder-api", CONTROLLER, "cinder",
                _uwsgi("cinder.wsgi.api:application", "cinder-api", pyargv=" ".join(CINDER_CONF)), "http",
                port="cinder-api", after=("cinder-schema",)),
        Service("cinder-scheduler", CONTROLLER, "cinder", _venv_script("cinder-scheduler", *CINDER_CONF), "heartbeat",
                heartbeats=(Heartbeat("cinder", "cinder-scheduler", topology.CINDER_HOST),),
                after=("cinder-schema", "rabbitmq")),
        # The KVM backend's NFS server on the storage network: rpcbind (NFSv3 clients ask it for mountd's
        # port) and nfs-ganesha, a user-space NFS server (this kernel has no nfsd).
        Service("rpcbind", STORAGE, "rpcbind", _static("/usr/sbin/rpcbind", "-f", "-w"), "process", grace=2,
                unit="rpcbind"),
        Service("nfs-ganesha", STORAGE, "ganesha",
                _static("/usr/bin/ganesha.nfsd", "-F", "-f", "/etc/ganesha/ganesha.conf", "-L",
                        "/var/log/ganesha/ganesha.log", "-p", "/run/ganesha.pid", "-N", "NIV_EVENT"),
                "nfs", grace=5, needs=("rpcbind",), after=("rpcbind",)),
        Service(
            "cinder-volume", STORAGE, "cinder", _venv_script("cinder-volume", *CINDER_CONF), "heartbeat",
            # One process, one child (and one service record) per backend.
            heartbeats=(
                Heartbeat("cinder", "cinder-volume", f"{topology.CINDER_HOST}@{topology.CINDER_BACKEND}"),
                Heartbeat("cinder", "cinder-volume", f"{topology.CINDER_HOST}@{topology.VMDK_BACKEND}",
                          needs="vcenter"),
            ),
            grace=8,
            # Its VMDK backend logs in to vCenter at start and stays uninitialised if it cannot.
            after=("cinder-schema", "rabbitmq", "nfs-ganesha", "vcenter-ready"),
        ),
    ]


SERVICES: list[Service] = [
    *(_sshd(host.name) for host in topology.TOPOLOGY.hosts),
    Service("mariadb", CONTROLLER, "mysql", _mariadb_argv, "mariadb", port="mariadb", grace=30,
            after=("mariadb-datadir",)),
    Service("rabbitmq", CONTROLLER, "rabbitmq", _rabbitmq_argv, "amqp", port="rabbitmq", env=_rabbitmq_env,
            grace=20),
    Service("keystone", CONTROLLER, "keystone", _uwsgi("keystone.wsgi.api:application", "keystone", threads=4),
            "http", port="keystone", env=_dir_env("OS_KEYSTONE_CONFIG_DIR", "/etc/keystone"),
            after=("keystone-schema",)),
    Service(
        "glance-api", CONTROLLER, "glance",
        # glanceclient (cinder's upload-to-image) sends 1 MiB chunks; uWSGI refuses chunks past its 1 MB
        # default chunked-input-limit with "unable to receive chunked part". glance's own application,
        # with the session options its trusts need registered (plugins/.../glance_api.py).
        _uwsgi("stackproof_lab_plugins.glance_api:application", "glance-api",
               extra=("--chunked-input-limit", str(16 * 2**20))),
        "http", port="glance-api", env=_dir_env("OS_GLANCE_CONFIG_DIR", "/etc/glance"), after=("glance-schema",),
    ),
    Service("placement-api", CONTROLLER, "placement", _uwsgi("placement.wsgi.api:application", "placement-api"),
            "http", port="placement-api", env=_dir_env("OS_PLACEMENT_CONFIG_DIR", "/etc/placement"),
            after=("placement-schema",)),
    Service("nova-api", CONTROLLER, "nova", _uwsgi("nova.wsgi.osapi_compute:application", "nova-api", threads=4),
            "http", port="nova-api", env=_nova_api_env, after=("nova-schema",)),
    # Instances' metadata (their key pair, user data), behind the edge's metadata proxy (dataplane/metadata_proxy).
    Service("nova-api-metadata", CONTROLLER, "nova", _uwsgi("nova.wsgi.metadata:application", "nova-metadata"),
            "http", port="nova-metadata", env=_nova_api_env, after=("nova-schema",)),
    Service("nova-conductor", CONTROLLER, "nova", _venv_script("nova-conductor", *NOVA_CONF), "heartbeat",
            heartbeats=(Heartbeat("nova_cell1", "nova-conductor", topology.NOVA_CONTROLLER_HOST),),
            after=("nova-schema", "rabbitmq")),
    Service("nova-scheduler", CONTROLLER, "nova", _venv_script("nova-scheduler", *NOVA_CONF), "heartbeat",
            heartbeats=(Heartbeat("nova_cell1", "nova-scheduler", topology.NOVA_CONTROLLER_HOST),),
            after=("nova-schema", "rabbitmq")),
    # The lab vCenter (govmomi's simulator with our inventory, stackproof_lab/vcenter), for the VMware aggregate.
    *([Service("vcenter", CONTROLLER, "vcenter", _vcenter_argv, "vcenter", port="vcenter", env=vcenter_env,
               grace=5, after=("vcenter-build",))] if topology.VMWARE else []),
    *(_compute(host, vmware=False) for host in topology.KVM_COMPUTES),
    *(_compute(host, vmware=True) for host in topology.VMWARE_COMPUTES),
    # The lab NSX manager (stackproof_lab/nsx): the NSX-T Policy API the lab's Neutron realises everything in,
    # on the controller's management address as computes and operators reach a real one.
    Service("nsx-manager", CONTROLLER, "nsx", nsx_lab.argv, "nsx", port=nsx_design.PORT, env=nsx_lab.env, grace=5),
    # NSX's data plane on every transport node (stackproof_lab/dataplane): segments, instances as namespaces with
    # their port's MAC and addresses, the distributed firewall in front of them, routers with NAT on the edge.
    *(service for host in topology.KVM_COMPUTES for service in _open_vswitch(host)),
    *(_node_agent(h) for h in topology.TOPOLOGY.transport_nodes),
    # Its driver realises every network, port and security group in the NSX manager: that answers first.
    Service("neutron-api", CONTROLLER, "neutron", _uwsgi("neutron.wsgi.api:application", "neutron-api"), "http",
            port="neutron-api", env=_dir_env("OS_NEUTRON_CONFIG_DIR", "/etc/neutron"),
            after=("neutron-schema", "nsx-manager"), warm_up=_warm_up_neutron),
    *(_block_storage() if topology.BLOCK_STORAGE else []),
]


# Started only by a fault (stackproof_lab/faults), never by `up`; `down` stops them with the rest.
ON_DEMAND: list[Service] = [
    *([_compute(topology.TWIN_COMPUTE, vmware=True, on=CONTROLLER, conf=configs.TWIN_CONF)] if topology.VMWARE else []),
    *([Service(topology.TWIN_SCHEDULER, topology.KVM_COMPUTES[1], "nova",
               _venv_script("nova-scheduler", "--config-file", configs.TWIN_SCHEDULER_CONF), "heartbeat",
               heartbeats=(Heartbeat("nova_cell1", "nova-scheduler", topology.KVM_COMPUTES[1]),),
               unit="nova-scheduler")] if topology.NESTED else []),
]
BY_NAME = {service.name: service for service in (*SERVICES, *ON_DEMAND)}
# Services that keep references into the lab vCenter (folders, sessions, cached morefs): restarted
# whenever it restarts, since it starts from its baseline inventory.
VCENTER_CLIENTS = (*(f"nova-compute-{host}" for host in topology.VMWARE_COMPUTES),
                   *(("cinder-volume",) if topology.VMWARE and topology.BLOCK_STORAGE else ()))


def dependents(names: set[str]) -> set[str]:
    """Services that need one of ``names`` to start (see Service.needs)."""
    return {service.name for service in SERVICES if set(service.needs) & names}


def get(name: str) -> Service:
    try:
        return BY_NAME[name]
    except KeyError:
        raise LabError(f"no lab service named {name!r}; known: {', '.join(BY_NAME)}") from None


def base_env(layout: Layout) -> dict[str, str]:
    """The environment every service starts with: the caller's, minus anything that would steer
    OpenStack clients or Python elsewhere, with the lab venv first on PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OS_", "PYTHON", "VIRTUAL_ENV", "RABBITMQ_", "ERL_", "UWSGI_"))
    }
    env["PATH"] = f"{layout.venv_bin}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    return env


def inside(service: Service) -> bool:
    """Whether this process runs inside the service's host (lab-service over ssh)."""
    return os.environ.get(HOST_ENV) == service.host


def start(layout: Layout, service: Service) -> processes.ProcessRecord:
    """Start ``service`` inside its host unless it already runs; returns its process record."""
    running = processes.read_record(layout.run, service.name)
    if running:
        return running
    env = {**base_env(layout), **service.env(layout), HOST_ENV: service.host}
    if service.name == "rabbitmq":
        (layout.data / "rabbitmq").mkdir(parents=True, exist_ok=True)
    enter = None if inside(service) else hostnet.enter(layout, service.host, cwd=layout.state)
    return processes.spawn(service.name, service.argv(layout), run_dir=layout.run, log_path=service.log(layout),
                           env=env, cwd=layout.state, enter=enter, nested=inside(service))


def stop(layout: Layout, service: Service) -> str:
    """Stop ``service`` (bounded); returns a note: "stopped", "killed" or "not running"."""
    record = processes.read_record(layout.run, service.name)
    if record is None:
        processes.pid_file(layout.run, service.name).unlink(missing_ok=True)
        return "not running"
    killed = processes.stop_group(record, grace=service.grace)
    processes.pid_file(layout.run, service.name).unlink(missing_ok=True)
    return "killed after SIGTERM grace" if killed else "stopped"


# --- health --------------------------------------------------------------------------------------


def _mariadb_answers(address: str, port: int) -> bool:
    with socket.create_connection((address, port), timeout=2) as conn:
        conn.settimeout(2)
        greeting = conn.recv(64)
    # MySQL protocol: 3-byte length, sequence id, then protocol version 10 (a handshake) or 0xff (an
    # error packet such as "host not allowed" before the lab's account exists): either way it answers.
    return len(greeting) > 4 and greeting[4] in (10, 0xFF)


def _amqp_answers(address: str, port: int) -> bool:
    with socket.create_connection((address, port), timeout=2) as conn:
        conn.settimeout(3)
        conn.sendall(b"AMQP\x00\x00\x09\x01")
        reply = conn.recv(16)
    # A method frame (type 1) on channel 0: connection.start.
    return reply[:3] == b"\x01\x00\x00"


def sql(layout: Layout, statement: str, *, timeout: float = 30) -> list[list[str]]:
    """Run SQL as MariaDB's root over the private socket; rows as lists of strings."""
    try:
        result = subprocess.run(
            [
                "mariadb",
                f"--socket={layout.mariadb_socket}",
                "-uroot",
                "--batch",
                "--skip-column-names",
                "-e",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise LabError(f"gave up after {timeout:.0f}s waiting for MariaDB to run: {statement[:80]}") from None
    if result.returncode != 0:
        raise LabError(f"MariaDB: {result.stderr.strip()[:300]}")
    return [line.split("\t") for line in result.stdout.splitlines()]


def _vcenter_answers(layout: Layout, record: processes.ProcessRecord) -> bool:
    # The endpoint file is written once the server answers, removed when it stops; a stale one from a
    # killed server names another pid.
    endpoint = vcenter.read_endpoint(layout.state)
    if not endpoint or endpoint.get("pid") not in (record.pid, _inner_pid(layout, "vcenter")):
        return False
    context = ssl.create_default_context(cafile=str(vcenter.ca_file(layout.state)))
    url = f"https://{layout.controller}:{layout.port('vcenter')}/sdk/vimServiceVersions.xml"
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def heartbeats(layout: Layout) -> dict[tuple[str, str, str], int]:
    """Seconds since each service record's last heartbeat, by (database, binary, host)."""
    union = []
    for database in ("nova_cell1", *(("cinder",) if topology.BLOCK_STORAGE else ())):
        union.append(
            f"SELECT '{database}', `binary`, host, "
            f"TIMESTAMPDIFF(SECOND, COALESCE(updated_at, created_at), UTC_TIMESTAMP()) "
            f"FROM {database}.services WHERE deleted = 0"
        )
    try:
        rows = sql(layout, " UNION ALL ".join(union), timeout=10)
    except LabError:
        return {}  # schemas not there yet: nobody has a heartbeat
    return {(db, binary, host): int(age) for db, binary, host, age in rows if age != "NULL"}


def _enabled(layout: Layout, beat: Heartbeat) -> bool:
    """A cinder-volume backend's record beats only while cinder.conf's enabled_backends lists it: a fault
    may take one out (its record stays behind and goes down, as on a real cloud)."""
    if beat.binary != "cinder-volume" or "@" not in beat.host:
        return True
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(configs.get("cinder-storage").local(layout))
    enabled = {name.strip() for name in parser.get("DEFAULT", "enabled_backends", fallback="").split(",")}
    return beat.host.split("@", 1)[1] in enabled


def health(layout: Layout, service: Service, beats: dict[tuple[str, str, str], int] | None = None) -> str:
    """ "up", "down", or "stale (Ns)" for heartbeat services; never raises."""
    record = processes.read_record(layout.run, service.name)
    if record is None:
        return "down"
    try:
        if service.health == "http":
            status = rest.probe(layout.public_url(service.port or ""))
            return "up" if 0 < status < 500 else ("down" if status == 0 else f"HTTP {status}")
        if service.health == "mariadb":
            return "up" if _mariadb_answers(layout.reached, layout.port("mariadb")) else "down"
        if service.health == "amqp":
            return "up" if _amqp_answers(layout.reached, layout.port("rabbitmq")) else "down"
        if service.health == "ssh":
            return "up" if _ssh_answers(layout, service.host) else "down"
        if service.health == "process":
            return "up"
        if service.health == "nfs":
            return "up" if _nfs_answers(layout) else "down"
        if service.health == "vcenter":
            return "up" if _vcenter_answers(layout, record) else "down"
        if service.health == "nsx":
            return "up" if nsx_lab.answers(layout, (record.pid, _inner_pid(layout, service.name))) else "down"
        if service.health == "heartbeat":
            beats = heartbeats(layout) if beats is None else beats
            assert service.heartbeats
            expected = [b for b in service.heartbeats
                        if (b.needs is None or processes.read_record(layout.run, b.needs)) and _enabled(layout, b)]
            ages = [beats.get(beat.key) for beat in expected]
            # A heartbeat older than the process is its predecessor's (e.g. right after a restart).
            # Ages from MariaDB are whole seconds between two truncated timestamps (the true age is
            # within 1 s of it either way), so only age + 1 <= process age proves the beat is this
            # process's own; at worst that costs one more report_interval.
            lifetime = processes.age(record)
            if any(age is None or age + 1 > lifetime for age in ages):
                return "starting"
            oldest = max(age for age in ages if age is not None)
            return "up" if oldest <= SERVICE_DOWN_TIME else f"stale ({oldest}s)"
    except OSError:
        return "down"
    return "unknown"


def _ssh_answers(layout: Layout, host: str) -> bool:
    address = topology.TOPOLOGY.get(host).address(layout)
    if topology.NESTED:
        # Its address is on the undercloud's tenant network, which the runner does not reach: asked from inside.
        probe = (f"import socket; "
                 f"print(socket.create_connection(({address!r}, {topology.SSH_PORT}), timeout=2).recv(16))")
        result = hostnet.run_in(layout, host, ["python3", "-S", "-c", probe], timeout=10, check=False)
        return "SSH-" in result.stdout
    with socket.create_connection((address, topology.SSH_PORT), timeout=2) as conn:
        conn.settimeout(3)
        return conn.recv(16).startswith(b"SSH-")


def _nfs_answers(layout: Layout) -> bool:
    """NFS v3 over TCP answers a NULL call on the storage network, as a compute reaches it."""
    result = hostnet.run_in(layout, STORAGE, ["rpcinfo", "-T", "tcp", str(topology.STORAGE_SERVER), "nfs", "3"],
                            timeout=10, check=False)
    return result.returncode == 0


def _inner_pid(layout: Layout, name: str) -> int:
    """A service's pid inside its host (what it writes into files of its own, like vcenter.json)."""
    try:
        return int(processes.pid_file(layout.run, name).read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def wait_healthy(layout: Layout, service: Service, *, timeout: float) -> None:
    """Bounded wait until ``service`` is healthy; fails at once, naming the log, if its process died."""
    def check() -> bool:
        if processes.read_record(layout.run, service.name) is None:
            raise LabError(f"{service.name} exited during start-up; see {service.log(layout)}")
        return health(layout, service) == "up"

    wait_for(
        check, timeout=timeout, what=f"{service.name} to become healthy (log: {service.log(layout)})", interval=0.5
    )
