"""What the block storage workload checks create and how they drive it: volumes of the designed types, attached
and detached through the compute API as a user does, and read as cinder and nova report them.

Every volume and server goes through the ledger (`resources`); a wait ends in the volume's settled state
and the check judges it, so a failure names the volume, its type, cinder's own message and request ID.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from stackproof.findings import expect
from stackproof.servers import GIB

MESSAGES_MICROVERSION = "3.3"  # user messages: why cinder failed a volume, with the request ID
# Volume states a wait stops at: the operation either finished or failed.
SETTLED = frozenset({"available", "in-use", "error", "error_attaching", "error_detaching", "error_extending"})


def designed_type(volume_design: list, hypervisor: str) -> Any:
    """The designed volume type (architecture.volume_types) for `hypervisor` servers."""
    designs = [d for d in volume_design if d.hypervisor == hypervisor]
    expect(bool(designs), f"the target designs no volume type for {hypervisor} servers",
           expected=f"an architecture.volume_types entry with hypervisor {hypervisor}",
           found=[f"{d.name}: {d.hypervisor}" for d in volume_design], where="target architecture.volume_types")
    return designs[0]


def cinder_messages(cloud: Any, volume_id: str) -> str:
    """Cinder's user messages about a volume (why a create or attach failed), newest first, with request IDs."""
    response = cloud.block_storage.get(f"/messages?resource_uuid={volume_id}", microversion=MESSAGES_MICROVERSION)
    if response.status_code != 200:
        return f"messages unavailable (HTTP {response.status_code})"
    # cinder filters by resource_uuid (a filter its resource_filters.json enables for messages).
    messages = sorted(response.json().get("messages", []), key=lambda m: m.get("created_at", ""), reverse=True)
    return "; ".join(f"{m.get('user_message')} (request {m.get('request_id')})" for m in messages) or "none"


def describe(volume: Any) -> str:
    """A volume as a failure message names it: ID, name, type, status, the backend that holds it."""
    host = getattr(volume, "host", None) or "no backend host"
    return f"volume {volume.id} ({volume.name}), type {volume.volume_type}, status {volume.status}, on {host}"


def settle(cloud: Any, waiter: Any, volume: Any, what: str, *, limit: str = "volume_available",
           leaving: frozenset[str] = frozenset()) -> Any:
    """Wait until `volume` reaches a settled state it was not in before (`leaving`: e.g. in-use while a detach
    is under way), bounded by the target's `limit`."""
    return waiter.until(lambda: cloud.block_storage.get_volume(volume.id), limit=limit,
                        until=lambda v: v.status in SETTLED - leaving, description=what)


def new_volume(cloud: Any, resources: Any, waiter: Any, design: Any, hint: str, *, image: Any = None) -> Any:
    """A volume of the designed type (from `image` when given), available; a failure names cinder's reason."""
    size = 1
    attrs: dict[str, Any] = {"volume_type": design.name}
    if image is not None:
        attrs["image_id"] = image.id
        size = max(1, image.min_disk or 0, math.ceil((image.virtual_size or image.size or 0) / GIB))
    volume = resources.create("volume", hint=hint, size=size, **attrs)
    source = f" from image {image.name}" if image is not None else ""
    volume = settle(cloud, waiter, volume, f"volume {volume.name} of type {design.name}{source} to become available")
    expect(volume.status == "available", f"a {design.name} volume{source} could not be created",
           expected=f"status available, on backend {design.backend}",
           found=f"status {volume.status}; cinder says: {cinder_messages(cloud, volume.id)}",
           where=describe(volume))
    return volume


def attach(cloud: Any, waiter: Any, server: Any, volume: Any) -> Any:
    """Attach through the compute API, as a user does; returns the volume once it settled."""
    cloud.compute.create_volume_attachment(server, volume_id=volume.id)
    return settle(cloud, waiter, volume, f"volume {volume.name} to attach to server {server.id}", limit="attach")


def detach(cloud: Any, waiter: Any, server: Any, volume: Any) -> Any:
    """Detach through the compute API; the volume must be available again, with no attachment left."""
    cloud.compute.delete_volume_attachment(server, volume)
    detached = settle(cloud, waiter, volume, f"volume {volume.name} to detach from server {server.id}",
                      limit="attach", leaving=frozenset({"in-use"}))
    expect(detached.status == "available" and not attachments_of(detached),
           f"volume {volume.name} did not detach from server {server.id}", expected="status available, no attachment",
           found=f"status {detached.status}, attachments {attachments_of(detached)}; cinder says: "
                 f"{cinder_messages(cloud, volume.id)}", where=f"{describe(detached)}, server {server.id}")
    return detached


def attachments_of(volume: Any) -> list[dict[str, Any]]:
    return list(volume.attachments or [])


def attach_events(cloud: Any, server: Any) -> list[str]:
    """The outcome of each event of the server's attach_volume actions, as nova recorded them."""
    found = []
    for action in cloud.compute.server_actions(server.id):
        if action.action != "attach_volume":
            continue
        detail = cloud.compute.get_server_action(action.request_id, server.id)
        for event in detail.events or []:
            # An admin sees the traceback; its last line is the exception nova raised.
            cause = (event.get("traceback") or "").strip().splitlines()[-1:]
            found.append(f"{event.get('event')}: {event.get('result')}{': ' + cause[0] if cause else ''} "
                         f"(request {action.request_id})")
    return found


@dataclass(frozen=True)
class Attached:
    """One volume attached to one server, as cinder records it."""

    volume: Any
    attachment: dict[str, Any]  # the volume's attachments entry: attachment_id, server_id, host_name, device
    connection: dict[str, Any]  # connection_info of cinder's attachment record

    @property
    def driver_volume_type(self) -> str:
        return str(self.connection.get("driver_volume_type"))


def attached_to(cloud: Any, server: Any, volume: Any, host_name: str | None) -> Attached:
    """Verify that `volume` is in-use by `server` alone (and, when given, through `host_name`'s connector), and
    return the attachment with the connection info the hypervisor got."""
    at = describe(volume) + f", server {server.id}"
    records = attachments_of(volume)
    if volume.status != "in-use":
        expect(False, f"volume {volume.name} did not attach to server {server.id}", expected="status in-use",
               found=f"status {volume.status}; cinder says: {cinder_messages(cloud, volume.id)}; nova's attach: "
                     f"{attach_events(cloud, server) or 'no attach_volume action'}", where=at)
    expect(len(records) == 1 and records[0].get("server_id") == server.id,
           f"volume {volume.name} is not attached to server {server.id} alone",
           expected=f"one attachment, server_id {server.id}",
           found=[f"server_id {a.get('server_id')}, host_name {a.get('host_name')}" for a in records], where=at)
    record = records[0]
    if host_name is not None:
        expect(record.get("host_name") == host_name, f"volume {volume.name} is attached through another host",
               expected=f"host_name {host_name} (the server's compute host)",
               found=f"host_name {record.get('host_name')}", where=at)
    detail = cloud.block_storage.get_attachment(record["attachment_id"])  # with connection_info
    return Attached(volume, record, dict(detail.connection_info or {}))
