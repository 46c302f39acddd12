"""A tempest.conf for a cloud described by a stackproof target, read from the target and the cloud itself.

Every fact comes from the wire: the admin credentials and region from the target's clouds.yaml entry, the
image, flavors and network tempest boots with, the services in the catalog, neutron's and cinder's API
extensions, the block storage services. Every flag that turns a part of tempest off (a skip) is written
with a comment naming what the cloud lacks, so the config itself says why each skip happens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# tempest's [service_available] options and the catalog types that provide them.
SERVICES = {
    "nova": "compute",
    "glance": "image",
    "neutron": "network",
    "cinder": "volumev3",
    "swift": "object-store",
    "horizon": "dashboard",
}


@dataclass(frozen=True)
class Option:
    section: str
    name: str
    value: str
    why: str = ""  # set on every flag that makes tempest skip something


@dataclass(frozen=True)
class CloudFacts:
    """What tempest.conf needs to know about the cloud, as read from it."""

    auth_url: str
    region: str
    admin: dict[str, str]  # username, password, project_name, user_domain_name, project_domain_name
    catalog_types: frozenset[str]
    image_id: str
    image_name: str
    flavors: tuple[tuple[str, str], ...]  # (id, name), smallest first
    network: str  # a shared network every project can boot on
    external_network: str  # id of a router:external network, "" when there is none
    image_hosts: tuple[str, ...]  # compute hosts whose hypervisor type is the image's
    other_hosts: tuple[str, ...]  # the other compute hosts
    network_extensions: tuple[str, ...]
    volume_extensions: tuple[str, ...]
    volume_services: frozenset[str]  # binaries: cinder-volume, cinder-backup, ...


def options(facts: CloudFacts, workdir: Path) -> list[Option]:
    """tempest.conf for ``facts``, option by option; ``workdir`` holds its logs and lock files."""
    admin = facts.admin
    extensions = set(facts.network_extensions)
    (flavor, flavor_name), (flavor_alt, flavor_alt_name) = facts.flavors[0], facts.flavors[-1]
    no_l3 = "router" not in extensions
    found = [
        Option("DEFAULT", "log_dir", str(workdir / "logs")),
        Option("DEFAULT", "log_file", "tempest.log"),
        Option("oslo_concurrency", "lock_path", str(workdir / "locks")),
        Option("auth", "admin_username", admin["username"]),
        Option("auth", "admin_password", admin["password"]),
        Option("auth", "admin_project_name", admin["project_name"]),
        Option("auth", "admin_domain_name", admin["user_domain_name"]),
        # Each test class gets a project and users of its own (admin creates them).
        Option("auth", "use_dynamic_credentials", "true"),
        Option("identity", "uri_v3", facts.auth_url),
        Option("identity", "auth_version", "v3"),
        Option("identity", "region", facts.region),
        Option("compute", "region", facts.region),
        Option("compute", "image_ref", f"{facts.image_id}  # {facts.image_name}"),
        Option("compute", "image_ref_alt", f"{facts.image_id}  # {facts.image_name}"),
        Option("compute", "flavor_ref", f"{flavor}  # {flavor_name}"),
        Option("compute", "flavor_ref_alt", f"{flavor_alt}  # {flavor_alt_name}"),
        Option("compute", "fixed_network_name", facts.network),
        Option("image", "region", facts.region),
        Option("network", "region", facts.region),
        Option("volume", "region", facts.region),
        Option("network-feature-enabled", "api_extensions", ",".join(sorted(extensions)),
               "neutron lists no router extension (no L3): router and floating IP tests skip" if no_l3 else ""),
        Option("network", "public_network_id", facts.external_network,
               "" if facts.external_network else "no external (router:external) network: its tests skip"),
        *_multinode(facts),
        Option("volume-feature-enabled", "api_extensions", ",".join(sorted(facts.volume_extensions))),
    ]
    for option, service_type in SERVICES.items():
        present = service_type in facts.catalog_types
        found.append(Option("service_available", option, str(present).lower(),
                            "" if present else f"no {service_type} service in the catalog"))
    if no_l3:
        found += [
            Option("auth", "create_isolated_networks", "false",
                   f"neutron has no router extension (no L3): test projects boot on the shared network "
                   f"{facts.network} instead of a network and router of their own"),
            Option("network-feature-enabled", "floating_ips", "false",
                   "neutron has no router extension (no L3): no floating IPs"),
        ]
    if "key-manager" not in facts.catalog_types:
        found.append(Option("compute-feature-enabled", "attach_encrypted_volume", "false",
                            "no key-manager service in the catalog for the volume encryption keys"))
    if "cinder-backup" not in facts.volume_services:
        found.append(Option("volume-feature-enabled", "backup", "false", "no cinder-backup service"))
    return found


def _multinode(facts: CloudFacts) -> list[Option]:
    """tempest's multinode test boots one server on each of ``min_compute_nodes`` hosts, forced past the
    scheduler: only on hosts that can boot the image; the others are left out by ``target_hosts_to_avoid``,
    a substring of host names (their common prefix, when no image host has it)."""
    same, others = facts.image_hosts, facts.other_hosts
    avoid = os.path.commonprefix(sorted(others)) if others else ""  # noqa: RUF071 (names, not paths)
    if len(same) >= 2 and (not others or (avoid and not any(avoid in host for host in same))):
        found = [Option("compute", "min_compute_nodes", str(len(same)))]
        if others:
            found.append(Option("compute", "target_hosts_to_avoid",
                                f"{avoid}  # {', '.join(others)}: another hypervisor type than {facts.image_name}'s"))
        return found
    return [Option("compute", "min_compute_nodes", "1",
                   f"fewer than 2 compute hosts that can boot {facts.image_name} tell apart from the others by "
                   "name: the multinode test skips")]


# What no API tells: the lab's guests are records kept by its drivers, not virtual machines.
LAB_LIMITS = [
    # The lab's guests take the server's key pair as root (their sshd is the NSX node agent's): tempest's scenarios
    # that log into a guest through its floating IP (network basic ops) do so as root.
    Option("validation", "image_ssh_user", "root"),
    # Project networks tempest makes live inside the lab's namespaces; their addresses come from a documentation
    # range as every lab address does (tempest's default is 10.100.0.0/16).
    Option("network", "project_network_cidr", "203.0.113.0/24"),
    Option("network", "project_network_mask_bits", "28"),
    Option("validation", "run_validation", "false",
           "tempest's validation logs in as the image's user (cirros) and reads the guest's console; the lab's guests "
           "are network namespaces whose sshd takes the server's key pair as root (SP-NSX-010), with no console"),
    Option("network", "project_networks_reachable", "false",
           "project networks are reached through floating IPs only (the edge's NAT), as behind NSX Tier-1 gateways"),
]


def render(found: list[Option]) -> str:
    """The options as INI, grouped by section, each skip flag under a comment saying why."""
    lines = ["# Written by tests/tempest/run_tempest.py from the target and the cloud; regenerated every run."]
    sections: dict[str, list[Option]] = {}
    for option in found:
        sections.setdefault(option.section, []).append(option)
    for section, entries in sections.items():
        lines += ["", f"[{section}]"]
        for option in entries:
            if option.why:
                lines.append(f"# Skip: {option.why}.")
            value, _, note = option.value.partition("  # ")
            if note and note != value:
                lines.append(f"# {note}")
            lines.append(f"{option.name} = {value}")
    return "\n".join(lines) + "\n"


def skips(found: list[Option]) -> list[str]:
    """Each skip flag and its reason, one line each (for the run's summary)."""
    def shown(value: str) -> str:
        return '""' if not value else value if len(value) <= 40 else f"{value[:37]}..."

    return [f"[{o.section}] {o.name} = {shown(o.value)}: {o.why}" for o in found if o.why]


def read_cloud(conn: Any, auth: dict[str, str], region: str) -> CloudFacts:
    """The facts from a connected openstacksdk connection with admin rights."""
    types = frozenset(entry["type"] for entry in conn.session.auth.get_access(conn.session).service_catalog.catalog)
    images = [i for i in conn.image.images(status="active", visibility="public")
              if i.disk_format == "qcow2" and i.hypervisor_type == "qemu"]
    if not images:
        raise LookupError("no active public qcow2 image with hypervisor_type=qemu to boot tempest's servers from")
    flavors = sorted((f for f in conn.compute.flavors(is_public=True) if not f.extra_specs),
                     key=lambda f: (f.ram, f.disk, f.vcpus))
    if len(flavors) < 1:
        raise LookupError("no public flavor without extra specs for tempest's servers")
    networks = [n for n in conn.network.networks(is_shared=True) if not n.is_router_external]
    if not networks:
        raise LookupError("no shared network for tempest's servers")
    external = [n.id for n in conn.network.networks(is_router_external=True)]
    hosts = {h.service_details["host"]: h.hypervisor_type.lower() for h in conn.compute.hypervisors(details=True)}
    volume_extensions = conn.block_storage.get("/extensions").json().get("extensions", [])
    return CloudFacts(
        auth_url=auth["auth_url"],
        region=region,
        admin={key: auth[key] for key in ("username", "password", "project_name", "user_domain_name",
                                          "project_domain_name")},
        catalog_types=types,
        image_id=images[0].id,
        image_name=images[0].name,
        flavors=tuple((f.id, f.name) for f in (flavors[0], flavors[min(1, len(flavors) - 1)])),
        network=networks[0].name,
        external_network=external[0] if external else "",
        image_hosts=tuple(sorted(h for h, kind in hosts.items() if kind == images[0].hypervisor_type)),
        other_hosts=tuple(sorted(h for h, kind in hosts.items() if kind != images[0].hypervisor_type)),
        network_extensions=tuple(sorted(e.alias for e in conn.network.extensions())),
        volume_extensions=tuple(sorted(e["alias"] for e in volume_extensions)),
        volume_services=frozenset(s.binary for s in conn.block_storage.services()),
    )
