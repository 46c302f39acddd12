"""The kinds of cloud resource a check may create, and how each is created, found, listed and deleted.

`order` is the deletion order: lower goes first, so servers go before the volumes, ports and networks they
use, and routers lose their interfaces before subnets go.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from openstack import exceptions as os_exc


def _missing_is_none(getter: Callable[[], Any]) -> Any:
    try:
        return getter()
    except os_exc.NotFoundException:
        return None


@dataclass(frozen=True)
class Kind:
    name: str
    order: int
    create: Callable[..., Any]
    get: Callable[[Any, str], Any]
    delete: Callable[[Any, str], None]
    listing: Callable[[Any], Iterable[Any]]
    deleted_limit: str = "default"
    # Floating IPs have no name: their run prefix lives in the description.
    name_field: str = "name"
    # Statuses that already count as gone while the API still returns the resource. Not for servers: nova
    # shows DELETED before the compute finishes (network, volumes, vCenter calls) and a failure there
    # brings the server back as ERROR, so a server is gone only when the API answers 404.
    gone_states: frozenset[str] = frozenset({"DELETED", "deleted", "SOFT_DELETED"})


def _delete_volume(conn, volume_id: str) -> None:
    try:
        conn.block_storage.delete_volume(volume_id, ignore_missing=True)
    except os_exc.HttpException:
        # A volume stuck in error/attaching refuses a plain delete; an admin force-delete still removes it.
        conn.block_storage.delete_volume(volume_id, ignore_missing=True, force=True)


def _delete_router(conn, router_id: str) -> None:
    router = _missing_is_none(lambda: conn.network.get_router(router_id))
    if router is None:
        return
    for port in conn.network.ports(device_id=router_id):
        if str(port.device_owner).startswith("network:router_interface"):
            # removed meanwhile (a dead run's own cleanup was still going): gone is done
            with contextlib.suppress(os_exc.NotFoundException):
                conn.network.remove_interface_from_router(router, port_id=port.id)
    if router.external_gateway_info:
        conn.network.update_router(router, external_gateway_info={})
    conn.network.delete_router(router_id, ignore_missing=True)


def _delete_aggregate(conn, aggregate_id: str) -> None:
    aggregate = _missing_is_none(lambda: conn.compute.get_aggregate(aggregate_id))
    if aggregate is None:
        return
    for host in aggregate.hosts or []:
        conn.compute.remove_host_from_aggregate(aggregate, host)
    conn.compute.delete_aggregate(aggregate_id, ignore_missing=True)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "server", 10,
            create=lambda c, **a: c.compute.create_server(**a),
            get=lambda c, i: _missing_is_none(lambda: c.compute.get_server(i)),
            delete=lambda c, i: c.compute.delete_server(i, ignore_missing=True),
            listing=lambda c: c.compute.servers(all_projects=True),
            deleted_limit="server_deleted",
            gone_states=frozenset({"SOFT_DELETED"}),
        ),
        Kind(
            "floating_ip", 20,
            create=lambda c, **a: c.network.create_ip(**a),
            get=lambda c, i: _missing_is_none(lambda: c.network.get_ip(i)),
            delete=lambda c, i: c.network.delete_ip(i, ignore_missing=True),
            listing=lambda c: c.network.ips(),
            name_field="description",
        ),
        Kind(
            "volume_snapshot", 30,
            create=lambda c, **a: c.block_storage.create_snapshot(**a),
            get=lambda c, i: _missing_is_none(lambda: c.block_storage.get_snapshot(i)),
            delete=lambda c, i: c.block_storage.delete_snapshot(i, ignore_missing=True),
            listing=lambda c: c.block_storage.snapshots(all_projects=True),
            deleted_limit="volume_deleted",
        ),
        Kind(
            "volume", 40,
            create=lambda c, **a: c.block_storage.create_volume(**a),
            get=lambda c, i: _missing_is_none(lambda: c.block_storage.get_volume(i)),
            delete=_delete_volume,
            listing=lambda c: c.block_storage.volumes(all_projects=True),
            deleted_limit="volume_deleted",
        ),
        Kind(
            "image", 50,
            create=lambda c, **a: c.image.create_image(**a),
            get=lambda c, i: _missing_is_none(lambda: c.image.get_image(i)),
            delete=lambda c, i: c.image.delete_image(i, ignore_missing=True),
            listing=lambda c: c.image.images(),
        ),
        Kind(
            "port", 60,
            create=lambda c, **a: c.network.create_port(**a),
            get=lambda c, i: _missing_is_none(lambda: c.network.get_port(i)),
            delete=lambda c, i: c.network.delete_port(i, ignore_missing=True),
            listing=lambda c: c.network.ports(),
        ),
        Kind(
            "router", 70,
            create=lambda c, **a: c.network.create_router(**a),
            get=lambda c, i: _missing_is_none(lambda: c.network.get_router(i)),
            delete=_delete_router,
            listing=lambda c: c.network.routers(),
        ),
        Kind(
            "subnet", 80,
            create=lambda c, **a: c.network.create_subnet(**a),
            get=lambda c, i: _missing_is_none(lambda: c.network.get_subnet(i)),
            delete=lambda c, i: c.network.delete_subnet(i, ignore_missing=True),
            listing=lambda c: c.network.subnets(),
        ),
        Kind(
            "security_group", 85,
            create=lambda c, **a: c.network.create_security_group(**a),
            get=lambda c, i: _missing_is_none(lambda: c.network.get_security_group(i)),
            delete=lambda c, i: c.network.delete_security_group(i, ignore_missing=True),
            listing=lambda c: c.network.security_groups(),
        ),
        Kind(
            "network", 90,
            create=lambda c, **a: c.network.create_network(**a),
            get=lambda c, i: _missing_is_none(lambda: c.network.get_network(i)),
            delete=lambda c, i: c.network.delete_network(i, ignore_missing=True),
            listing=lambda c: c.network.networks(),
        ),
        Kind(
            "server_group", 95,
            create=lambda c, **a: c.compute.create_server_group(**a),
            get=lambda c, i: _missing_is_none(lambda: c.compute.get_server_group(i)),
            delete=lambda c, i: c.compute.delete_server_group(i, ignore_missing=True),
            listing=lambda c: c.compute.server_groups(all_projects=True),
        ),
        Kind(
            "keypair", 96,
            create=lambda c, **a: c.compute.create_keypair(**a),
            get=lambda c, i: _missing_is_none(lambda: c.compute.get_keypair(i)),
            delete=lambda c, i: c.compute.delete_keypair(i, ignore_missing=True),
            listing=lambda c: c.compute.keypairs(),
        ),
        Kind(
            "flavor", 97,
            create=lambda c, **a: c.compute.create_flavor(**a),
            get=lambda c, i: _missing_is_none(lambda: c.compute.get_flavor(i)),
            delete=lambda c, i: c.compute.delete_flavor(i, ignore_missing=True),
            listing=lambda c: c.compute.flavors(is_public=None),
        ),
        Kind(
            "aggregate", 98,
            create=lambda c, **a: c.compute.create_aggregate(**a),
            get=lambda c, i: _missing_is_none(lambda: c.compute.get_aggregate(i)),
            delete=_delete_aggregate,
            listing=lambda c: c.compute.aggregates(),
        ),
        Kind(
            "volume_type", 99,
            create=lambda c, **a: c.block_storage.create_type(**a),
            get=lambda c, i: _missing_is_none(lambda: c.block_storage.get_type(i)),
            delete=lambda c, i: c.block_storage.delete_type(i, ignore_missing=True),
            listing=lambda c: c.block_storage.types(),
        ),
    )
}


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown resource kind {name!r}; known: {', '.join(sorted(KINDS))}") from None


def label_of(kind_: Kind, resource: Any) -> str:
    return str(getattr(resource, kind_.name_field, "") or "")
