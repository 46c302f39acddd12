"""Faults made through the cloud's own APIs: aggregates, images, volume types, as an operator's slip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackproof_lab import services
from stackproof_lab.errors import LabError
from stackproof_lab.faults.base import Action, Lab
from stackproof_lab.rest import Cloud


def _aggregate(cloud: Cloud, name: str) -> dict[str, Any]:
    aggregates = cloud.call("compute", "GET", "/os-aggregates")["aggregates"]
    aggregate = next((a for a in aggregates if a["name"] == name), None)
    if aggregate is None:
        raise LabError(f"aggregate {name!r} does not exist; is the lab provisioned?")
    return aggregate


@dataclass(frozen=True)
class RenameAggregateKey(Action):
    """Rename an aggregate metadata key through the compute API, keeping its value."""

    aggregate: str
    key: str
    renamed: str

    def inject(self, lab: Lab) -> str:
        return self._move(lab, self.key, self.renamed)

    def clear(self, lab: Lab) -> str:
        return self._move(lab, self.renamed, self.key)

    def _move(self, lab: Lab, old: str, new: str) -> str:
        cloud = lab.cloud()
        aggregate = _aggregate(cloud, self.aggregate)
        metadata = aggregate.get("metadata", {})
        if old not in metadata:
            return f"aggregate {self.aggregate}: no key {old} (already moved)"
        cloud.call("compute", "POST", f"/os-aggregates/{aggregate['id']}/action",
                   {"set_metadata": {"metadata": {old: None, new: metadata[old]}}})
        return f"aggregate {self.aggregate}: {old}={metadata[old]} renamed to {new}"


@dataclass(frozen=True)
class AggregateHost(Action):
    """Add a host to an aggregate it does not belong in (an operator's slip); clear takes it out again.

    With availability zones per aggregate nova refuses a host in two zones (HTTP 409), so the slip an
    operator can make is a move: with `leaving`, the host leaves that aggregate first and returns on clear."""

    aggregate: str
    host: str
    leaving: str | None = None

    def inject(self, lab: Lab) -> str:
        cloud = lab.cloud()
        notes = [self._move(cloud, self.leaving, "remove_host", present=True)] if self.leaving else []
        return "; ".join([*notes, self._move(cloud, self.aggregate, "add_host", present=False)])

    def clear(self, lab: Lab) -> str:
        cloud = lab.cloud()
        notes = [self._move(cloud, self.aggregate, "remove_host", present=True)]
        if self.leaving:
            notes.append(self._move(cloud, self.leaving, "add_host", present=False))
        return "; ".join(notes)

    def _move(self, cloud: Cloud, name: str, action: str, present: bool) -> str:
        aggregate = _aggregate(cloud, name)
        if (self.host in aggregate.get("hosts", [])) != present:
            return f"aggregate {name}: {self.host} already {'out' if present else 'in'}"
        cloud.call("compute", "POST", f"/os-aggregates/{aggregate['id']}/action", {action: {"host": self.host}})
        return f"aggregate {name}: {action} {self.host}"


@dataclass(frozen=True)
class AggregateMetadata(Action):
    """Set one metadata key of a lab aggregate; clear removes it (the provisioned aggregate has no such key)."""

    aggregate: str
    key: str
    value: str

    def inject(self, lab: Lab) -> str:
        return self._set(lab, self.value)

    def clear(self, lab: Lab) -> str:
        return self._set(lab, None)

    def _set(self, lab: Lab, value: str | None) -> str:
        cloud = lab.cloud()
        aggregate = _aggregate(cloud, self.aggregate)
        if aggregate.get("metadata", {}).get(self.key) == value:
            return f"aggregate {self.aggregate}: {self.key} already {value}"
        cloud.call("compute", "POST", f"/os-aggregates/{aggregate['id']}/action",
                   {"set_metadata": {"metadata": {self.key: value}}})
        return f"aggregate {self.aggregate}: {self.key}={value}"


@dataclass(frozen=True)
class ImageProperty(Action):
    """Set (value) or strip (value None) one property of a lab image; clear restores the provisioned value."""

    image: str
    key: str
    value: str | None
    provisioned: str | None

    def inject(self, lab: Lab) -> str:
        return self._set(lab, self.value)

    def clear(self, lab: Lab) -> str:
        return self._set(lab, self.provisioned)

    def _set(self, lab: Lab, value: str | None) -> str:
        cloud = lab.cloud()
        images = cloud.call("image", "GET", f"/images?name={self.image}")["images"]
        if not images:
            raise LabError(f"image {self.image!r} does not exist; is the lab provisioned?")
        image = images[0]
        if image.get(self.key) == value:
            return f"image {self.image}: {self.key} already {value}"
        if value is None:
            patch = [{"op": "remove", "path": f"/{self.key}"}]
        else:
            patch = [{"op": "add", "path": f"/{self.key}", "value": value}]
        cloud.call("image", "PATCH", f"/images/{image['id']}", patch)
        return f"image {self.image}: {self.key}={value}"


@dataclass(frozen=True)
class VolumeTypeSpec(Action):
    """Set one extra spec of a lab volume type through the block storage API; clear restores the provisioned
    value."""

    volume_type: str
    key: str
    value: str
    provisioned: str

    def inject(self, lab: Lab) -> str:
        return self._set(lab, self.value)

    def clear(self, lab: Lab) -> str:
        return self._set(lab, self.provisioned)

    def _set(self, lab: Lab, value: str) -> str:
        cloud = lab.cloud()
        types = cloud.call("volume", "GET", "/types?is_public=None")["volume_types"]
        found = next((t for t in types if t["name"] == self.volume_type), None)
        if found is None:
            raise LabError(f"volume type {self.volume_type!r} does not exist; is the lab provisioned?")
        if found.get("extra_specs", {}).get(self.key) == value:
            return f"volume type {self.volume_type}: {self.key} already {value}"
        try:
            cloud.call("volume", "POST", f"/types/{found['id']}/extra_specs", {"extra_specs": {self.key: value}})
        except LabError as exc:
            if "currently in use" not in str(exc):
                raise
            # Cinder refuses extra spec changes while any volume of the type exists (a leftover, or one a
            # check made under the fault): the row is changed where cinder-api reads it from, so that inject
            # and above all clear work whatever volumes exist.
            services.sql(lab.layout, "UPDATE cinder.volume_type_extra_specs SET value = '{}', updated_at = "
                         "UTC_TIMESTAMP() WHERE volume_type_id = '{}' AND `key` = '{}' AND deleted = 0"
                         .format(value, found["id"], self.key))
            return f"volume type {self.volume_type}: {self.key}={value} (in use: set in cinder's database)"
        return f"volume type {self.volume_type}: {self.key}={value}"
