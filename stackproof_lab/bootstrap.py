"""First-time set-up of the data stores: MariaDB data dir, databases, schemas, Keystone, Nova cells.

Every step leaves a stamp in ``data/bootstrap/`` so a later ``up`` (after ``down``) skips it; a new
MariaDB data dir wipes the stamps, since the schemas went with it.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

from stackproof_lab import hostnet, passwords, services
from stackproof_lab.configs.openstack import REGION, db_url
from stackproof_lab.errors import LabError
from stackproof_lab.layout import Layout
from stackproof_lab.topology import CONTROLLER

DATABASES = ("keystone", "glance", "placement", "nova_api", "nova_cell0", "nova_cell1", "neutron", "cinder")
COMMAND_TIMEOUT = 600  # a schema migration on a busy 2-core machine; bounded all the same


def stamp(layout: Layout, step: str) -> Path:
    return layout.data / "bootstrap" / f"{step}.done"


def done(layout: Layout, step: str) -> bool:
    return stamp(layout, step).exists()


def mark(layout: Layout, step: str) -> None:
    path = stamp(layout, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


# Schema migrations off the critical path run at a lower CPU priority: on 2 cores the Nova and
# Keystone chains decide how long bring-up takes.
BACKGROUND_NICE = 10


def run(layout: Layout, log_name: str, argv: list[str], *, ok_codes: tuple[int, ...] = (0,), nice: int = 0) -> None:
    """Run a one-shot command from the lab venv on the controller, output to ``logs/<log_name>.log``, bounded."""
    log = layout.logs / f"{log_name}.log"
    if not os.path.isabs(argv[0]):
        argv[0] = str(layout.venv_bin / argv[0])
    if nice:
        # nice(1), not preexec_fn: the chains call this from threads, where preexec_fn is unsafe.
        argv = ["nice", "-n", str(nice), *argv]
    shown = argv
    argv = [*hostnet.enter(layout, CONTROLLER, cwd=layout.state), *argv]
    with open(log, "ab") as out:
        out.write(f"\n===== lab on {CONTROLLER}: {' '.join(shown)}\n".encode())
        out.flush()
        try:
            result = subprocess.run(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=services.base_env(layout),
                cwd=layout.state,
                timeout=COMMAND_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise LabError(
                f"gave up after {COMMAND_TIMEOUT}s waiting for {os.path.basename(argv[0])}; see {log}"
            ) from None
    if result.returncode not in ok_codes:
        command = " ".join(os.path.basename(a) for a in shown[3 if nice else 0 :][:3])
        raise LabError(f"{command} failed (exit {result.returncode}); see {log}")


def init_mariadb(layout: Layout) -> bool:
    """Create the private MariaDB data dir if it is missing; True if it was created."""
    datadir = layout.data / "mariadb"
    if (datadir / "mysql").is_dir():
        return False
    for old in (layout.data / "bootstrap").glob("*.done"):
        old.unlink()
    datadir.mkdir(parents=True, exist_ok=True)
    run(
        layout,
        "mariadb-install-db",
        [
            "/usr/bin/mariadb-install-db",
            "--defaults-file=/etc/mysql/my.cnf",
            # root logs in over the private socket as the OS root, no password to keep.
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ],
    )
    return True


def create_databases(layout: Layout) -> None:
    """Databases and the services' account (idempotent)."""
    password = passwords.load(layout)["database"].replace("'", "")
    statements = [f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8" for name in DATABASES]
    # The services reach MariaDB over the management network, from every host.
    for host in ("%",):
        statements += [
            f"CREATE USER IF NOT EXISTS 'lab'@'{host}' IDENTIFIED BY '{password}'",
            f"ALTER USER 'lab'@'{host}' IDENTIFIED BY '{password}'",
            f"GRANT ALL PRIVILEGES ON *.* TO 'lab'@'{host}'",
        ]
    services.sql(layout, "; ".join(statements))


def write_fernet_keys(layout: Layout) -> None:
    """What ``keystone-manage fernet_setup`` + ``credential_setup`` produce, without two slow imports:
    key 0 staged, key 1 primary, each 32 random bytes, url-safe base64."""
    for repo in ("fernet-keys", "credential-keys"):
        folder = layout.data / "keystone" / repo
        if (folder / "1").exists():
            continue
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for index in ("0", "1"):
            key = folder / index
            key.write_bytes(base64.urlsafe_b64encode(os.urandom(32)))
            os.chmod(key, 0o600)


def keystone_schema(layout: Layout) -> None:
    if not done(layout, "keystone-schema"):
        run(
            layout,
            "bootstrap-keystone",
            ["keystone-manage", "--config-file", "/etc/keystone/keystone.conf", "db_sync"],
        )
        mark(layout, "keystone-schema")
    write_fernet_keys(layout)


def keystone_bootstrap(layout: Layout) -> None:
    """The admin user, project, role and keystone's own catalog entry (keystone-manage bootstrap)."""
    if not done(layout, "keystone-bootstrap"):
        url = layout.url("keystone", "/v3")
        run(
            layout,
            "bootstrap-keystone",
            [
                "keystone-manage",
                "--config-file",
                "/etc/keystone/keystone.conf",
                "bootstrap",
                "--bootstrap-password",
                passwords.load(layout)["admin"],
                "--bootstrap-username",
                "admin",
                "--bootstrap-project-name",
                "admin",
                "--bootstrap-role-name",
                "admin",
                "--bootstrap-service-name",
                "keystone",
                "--bootstrap-region-id",
                REGION,
                "--bootstrap-admin-url",
                url,
                "--bootstrap-internal-url",
                url,
                "--bootstrap-public-url",
                layout.public_url("keystone", "/v3"),
            ],
        )
        mark(layout, "keystone-bootstrap")


def glance(layout: Layout) -> None:
    if not done(layout, "glance-schema"):
        run(
            layout,
            "bootstrap-glance",
            ["glance-manage", "--config-file", "/etc/glance/glance-api.conf", "db_sync"],
            nice=BACKGROUND_NICE,
        )
        mark(layout, "glance-schema")


def glance_metadefs(layout: Layout) -> str:
    """Glance's metadata definitions (the namespaces Horizon and the metadefs API serve), loaded from the
    JSON files glance's package ships, as a deployment does once after db_sync."""
    if done(layout, "glance-metadefs"):
        return ""
    source = layout.venv / "etc" / "glance" / "metadefs"
    files = sorted(source.glob("*.json"))
    if not files:
        raise LabError(f"no metadata definitions to load: {source} has no JSON files")
    run(
        layout,
        "bootstrap-glance",
        ["glance-manage", "--config-file", "/etc/glance/glance-api.conf", "db_load_metadefs", str(source)],
        nice=BACKGROUND_NICE,
    )
    # glance-manage logs a file it cannot read and still exits 0: count what reached the database.
    loaded = int(services.sql(layout, "SELECT COUNT(*) FROM glance.metadef_namespaces")[0][0])
    if loaded < len(files):
        raise LabError(f"glance-manage db_load_metadefs loaded {loaded} namespaces of {len(files)} files in "
                       f"{source}; see {layout.logs / 'bootstrap-glance.log'}")
    mark(layout, "glance-metadefs")
    return f"{loaded} namespaces"


def placement(layout: Layout) -> None:
    if not done(layout, "placement-schema"):
        run(
            layout,
            "bootstrap-placement",
            ["placement-manage", "--config-file", "/etc/placement/placement.conf", "db", "sync"],
            nice=BACKGROUND_NICE,
        )
        mark(layout, "placement-schema")


def nova(layout: Layout) -> None:
    if done(layout, "nova-schema"):
        return
    conf = ["--config-file", "/etc/nova/nova.conf"]
    secret = passwords.load(layout)
    run(layout, "bootstrap-nova", ["nova-manage", *conf, "api_db", "sync"])
    run(
        layout,
        "bootstrap-nova",
        [
            "nova-manage",
            *conf,
            "cell_v2",
            "map_cell0",
            "--database_connection",
            db_url(layout, secret, "nova_cell0"),
        ],
    )
    # Exit 2: a cell with this transport URL and database already exists (a re-run after a failure).
    run(layout, "bootstrap-nova", ["nova-manage", *conf, "cell_v2", "create_cell", "--name", "cell1"], ok_codes=(0, 2))
    # Migrates the cell1 database and, now that it is mapped, cell0.
    run(layout, "bootstrap-nova", ["nova-manage", *conf, "db", "sync"])
    mark(layout, "nova-schema")


def neutron(layout: Layout) -> None:
    if not done(layout, "neutron-schema"):
        run(
            layout,
            "bootstrap-neutron",
            [
                "neutron-db-manage",
                "--config-file",
                "/etc/neutron/neutron.conf",
                "--config-file",
                "/etc/neutron/plugins/ml2/ml2_conf.ini",
                "upgrade",
                "heads",
            ],
            nice=BACKGROUND_NICE,
        )
        mark(layout, "neutron-schema")


def cinder(layout: Layout) -> None:
    if not done(layout, "cinder-schema"):
        run(
            layout,
            "bootstrap-cinder",
            ["cinder-manage", "--config-file", "/etc/cinder/cinder.conf", "db", "sync"],
            nice=BACKGROUND_NICE,
        )
        mark(layout, "cinder-schema")
