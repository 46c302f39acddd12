"""The target description (`stackproof.yaml`): what the deployment under test should look like.

It is validated with a strict schema before any check runs. A bad file is reported as one line naming the
file, the line, the key and what is wrong (exit code 4). Secrets are never written in the file: passwords are
references to an environment variable or to a key of a secure.yaml.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stackproof.errors import TargetError

TARGET_ENV = "STACKPROOF_TARGET"
LAB_DIR_ENV = "STACKPROOF_LAB_DIR"
TESTINFRA_SCHEMES = ("local", "ssh", "paramiko", "ansible", "docker", "podman", "kubectl", "lxc", "salt", "winrm")


class _Strict(BaseModel):
    # Unknown keys are errors: a typo in an expectation must not silently turn a check off.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Strict):
    """Where a secret lives: an environment variable, or a dotted key of the secure.yaml."""

    env: str | None = None
    secure: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_literal(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("secrets are never written in the target file: use {env: VAR} or {secure: key}")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.secure is None):
            raise ValueError("give exactly one of 'env' or 'secure'")
        return self


class _TlsEndpoint(_Strict):
    url: str = Field(pattern=r"^https?://[^/\s]+")
    user: str
    password: SecretRef
    ca_bundle: Path | None = None
    insecure: bool = False

    @model_validator(mode="after")
    def _tls_choice(self) -> _TlsEndpoint:
        if self.insecure and self.ca_bundle is not None:
            raise ValueError("'insecure: true' and 'ca_bundle' exclude each other")
        return self

    @property
    def verify(self) -> bool | str:
        """What to hand to a TLS client: False only when the target says insecure explicitly."""
        if self.insecure:
            return False
        return str(self.ca_bundle) if self.ca_bundle else True


class VCenter(_TlsEndpoint):
    pass


class NsxManager(_TlsEndpoint):
    pass


class Clouds(_Strict):
    cloud: str = Field(min_length=1, description="clouds.yaml entry of the cloud under test (admin)")
    member: str | None = None
    undercloud: str | None = None
    overcloud: str | None = None


class HostRole(_Strict):
    urls: list[str] = Field(min_length=1)
    config: dict[str, str] = Field(default_factory=dict, description="service -> config file path on the host")
    units: dict[str, str] = Field(
        default_factory=dict,
        description="service -> systemd unit supervising it on the host (e.g. nova-compute: "
                    "openstack-nova-compute.service); what SP-FO-004 verifies is enabled and restarts on failure",
    )

    @field_validator("urls")
    @classmethod
    def _testinfra_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            scheme = url.split("://", 1)[0] if "://" in url else ""
            if scheme not in TESTINFRA_SCHEMES:
                raise ValueError(f"{url!r} is not a testinfra backend URL ({', '.join(TESTINFRA_SCHEMES)})")
        return urls


class Aggregate(_Strict):
    name: str
    hypervisor_type: str


class ImagePolicy(_Strict):
    isolation: list[Literal["aggregate_image_properties_isolation", "isolate_aggregates"]] = Field(min_length=1)
    metadata_key: str = "img_hv_type"
    namespace: str | None = None


class Drs(_Strict):
    enabled: bool = True
    behavior: Literal["fullyAutomated", "partiallyAutomated", "manual"] = "fullyAutomated"


class DataNetwork(_Strict):
    nic: str
    mtu: int = Field(ge=576, le=9216)
    subnet: str | None = None
    roles: list[str] = Field(default_factory=list)
    # An address of the storage the computes reach over the data network (an iSCSI portal, an NFS server):
    # the route to it must leave through `nic` (`ip route get`), not through the management or tenant NIC.
    storage_target: str | None = None


class VolumeType(_Strict):
    name: str
    backend: str
    hypervisor: Literal["kvm", "vmware"]


class Failover(_Strict):
    service_down_time: int = Field(gt=0)
    report_interval: int = Field(gt=0)
    # Seconds a restarted nova-compute may take to start and send its first report: the architecture's recovery
    # bound is report_interval + restart_margin (a cold Python start with the VMware driver is not instant).
    restart_margin: int = Field(default=60, gt=0)
    # nova's [DEFAULT] update_resources_interval on the VMware computes (nova's periodic default is 60 s): the
    # driver notices a lost vCenter, and placement mirrors the disabled service, only in that periodic task.
    resource_update_interval: int = Field(default=60, gt=0)


class VolumeSteering(_Strict):
    """How the deployment keeps a server booted from a volume on the hypervisor family its volume type serves
    (nova skips its image-type pre-filter for boot from volume, so images alone do not steer it)."""

    mechanism: Literal["availability_zones", "declared"] = Field(
        description="availability_zones: one zone per hypervisor family, volume types whose backends sit in their "
                    "family's zone, and nova's [cinder] cross_az_attach=False (verified in the cloud); declared: a "
                    "policy outside what the cloud's APIs show (reported as declared, proven by the workload check)")
    policy: str | None = Field(
        default=None, description="for mechanism 'declared': the policy in the operator's words, for the report")

    @model_validator(mode="after")
    def _policy_for_declared(self) -> VolumeSteering:
        if self.mechanism == "declared" and not (self.policy or "").strip():
            raise ValueError("mechanism 'declared' needs the policy, in words, under 'policy'")
        return self


class NsxDesign(_Strict):
    """The NSX attachment as designed (SP-NSX-*): where tenant networks live in NSX and what they carry."""

    transport_zone: str = Field(
        min_length=1, description="the overlay transport zone tenant segments live in, by display name or id "
                                  "(SP-NSX-007)")
    overlay_mtu: int = Field(ge=576, le=9000, description="MTU of every tenant (overlay) network (SP-NSX-002)")
    kvm_bridge: str = Field(
        default="nsx-managed", min_length=1,
        description="the NSX-managed OVS bridge of KVM transport nodes: nova's [neutron] ovs_bridge on KVM computes, "
                    "where an NSX port's tap sits (SP-NSX-003, SP-NSX-006)")
    enforcement_seconds: float = Field(
        default=10.0, gt=0, le=600,
        description="seconds within which a security group change takes effect on the data path (SP-NSX-008)")
    external_network: str | None = Field(
        default=None, description="the external network (name or id) whose floating IPs the runner reaches "
                                  "instances through (SP-NSX-008); unset: the cloud's only external network")


class Architecture(_Strict):
    aggregates: list[Aggregate] = Field(default_factory=list)
    image_policy: ImagePolicy | None = None
    drs: Drs | None = None
    datastore_pattern: str | None = None
    data_network: DataNetwork | None = None
    volume_types: list[VolumeType] = Field(default_factory=list)
    volume_steering: VolumeSteering | None = Field(
        default=None, description="the mechanism expected to steer volume-backed servers; unset: any working one")
    failover: Failover | None = None
    nsx: NsxDesign | None = Field(default=None, description="the NSX attachment; unset: the nsx area is not evaluated")

    @field_validator("datastore_pattern")
    @classmethod
    def _valid_regex(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern


class Timeouts(_Strict):
    """Seconds per kind of wait; `default` covers any wait without its own entry."""

    profile: str = "default"
    interval: float = Field(default=2.0, gt=0)
    default: float = Field(default=120.0, gt=0)
    server_active: float = Field(default=300.0, gt=0)
    server_deleted: float = Field(default=180.0, gt=0)
    volume_available: float = Field(default=180.0, gt=0)
    volume_deleted: float = Field(default=180.0, gt=0)
    attach: float = Field(default=180.0, gt=0)
    image_active: float = Field(default=600.0, gt=0)
    service_state: float = Field(default=180.0, gt=0)

    def get(self, name: str) -> float:
        value = getattr(self, name, None)
        return float(value) if isinstance(value, int | float) and name != "interval" else self.default


class _HostCommands(_Strict):
    """Shell commands a disruptive check runs through testinfra on a host of `role` (the first URL unless
    `url` names one); each must exit 0."""

    role: str
    url: str | None = None


class ServiceActions(_HostCommands):
    """How to crash a service so that it stays down, how to start it again, and (optionally) how to tell it
    runs: `check` exits 0 once it does."""

    kill: str
    start: str
    check: str | None = None


class LinkActions(_HostCommands):
    """How to cut a host's path to something it needs (its vCenter) and how to restore it."""

    cut: str
    restore: str


class Faults(_Strict):
    """The fault inventory (after os-faults): what disruptive checks may do to this target, and how.

    `services` keys are `<binary>@<host as the API shows it>` (`nova-compute@compute-7`); `vcenter_access`
    keys are the API host of a VMware nova-compute. A check whose action is not declared is skipped, naming
    the key it looked for.
    """

    services: dict[str, ServiceActions] = Field(default_factory=dict)
    vcenter_access: dict[str, LinkActions] = Field(default_factory=dict)

    @field_validator("services")
    @classmethod
    def _service_keys(cls, services: dict[str, ServiceActions]) -> dict[str, ServiceActions]:
        for key in services:
            binary, _, host = key.partition("@")
            if not binary or not host:
                raise ValueError(f"{key!r}: service keys are <binary>@<host>, e.g. nova-compute@compute-7")
        return services


class Target(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    clouds_yaml: Path | None = None
    secure_yaml: Path | None = None
    clouds: Clouds
    vcenters: dict[str, VCenter] = Field(default_factory=dict)
    nsx: NsxManager | None = None
    hosts: dict[str, HostRole] = Field(default_factory=dict)
    architecture: Architecture = Field(default_factory=Architecture)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    faults: Faults | None = None
    # Where the description was read from; set by load(), not by the file.
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _fault_roles_exist(self) -> Target:
        if self.faults is None:
            return self
        for section in ("services", "vcenter_access"):
            for key, action in getattr(self.faults, section).items():
                role = self.hosts.get(action.role)
                if role is None:
                    raise ValueError(f"faults.{section}.{key}: role {action.role!r} is not one of hosts")
                if action.url is not None and action.url not in role.urls:
                    raise ValueError(f"faults.{section}.{key}: url {action.url!r} is not one of "
                                     f"hosts.{action.role}.urls")
        return self

    def secret(self, ref: SecretRef, where: str) -> str:
        """Resolve a secret reference; `where` names the key for the error message."""
        if ref.env is not None:
            value = os.environ.get(ref.env)
            if not value:
                raise TargetError(f"{where}: environment variable {ref.env} is not set")
            return value
        if self.secure_yaml is None:
            raise TargetError(f"{where}: refers to secure.yaml key {ref.secure!r} but no secure_yaml is given")
        data = _read_yaml_mapping(self.secure_yaml)
        value: Any = data
        for part in str(ref.secure).split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if not isinstance(value, str) or not value:
            raise TargetError(f"{where}: key {ref.secure!r} not found in {self.secure_yaml}")
        return value


def _read_yaml_mapping(path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TargetError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise TargetError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, Mapping):
        raise TargetError(f"{path}: expected a mapping at the top level")
    return data


def _key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Map each key path of a YAML document to the line it stands on (1-based)."""
    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key_path = (*path, key_node.value)
                lines[key_path] = key_node.start_mark.line + 1
                walk(value_node, key_path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                walk(item, (*path, index))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return lines


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _one_line(path: Path, text: str, error: ValidationError) -> str:
    first = error.errors()[0]
    # pydantic inserts validator names into loc for unions/models; keep the keys the user wrote.
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    lines = _key_lines(text)
    line = None
    for cut in range(len(loc), 0, -1):
        line = lines.get(loc[:cut])
        if line:
            break
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key (not part of the target description)"
    elif first["type"] == "missing":
        message = "required key is missing"
    more = len(error.errors()) - 1
    suffix = f" (+{more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}{':' + str(line) if line else ''}: {_dotted(loc)}: {message}{suffix}"


def load(path: Path) -> Target:
    """Read and validate a target description; raise TargetError with one line on any problem."""
    path = Path(path)
    if not path.is_file():
        raise TargetError(f"{path}: target description not found")
    data = _read_yaml_mapping(path)
    text = path.read_text(encoding="utf-8")
    try:
        target = Target.model_validate(data)
    except ValidationError as exc:
        raise TargetError(_one_line(path, text, exc)) from None
    base = path.resolve().parent
    updates: dict[str, Any] = {"source": path.resolve()}
    for key in ("clouds_yaml", "secure_yaml"):
        value = getattr(target, key)
        if value is not None and not value.is_absolute():
            updates[key] = base / value
    for key in ("clouds_yaml", "secure_yaml"):
        value = updates.get(key, getattr(target, key))
        if value is not None and not Path(value).is_file():
            raise TargetError(f"{path}: {key}: file not found: {value}")
    return target.model_copy(update=updates)


def lab_dir(root: Path) -> Path:
    return Path(os.environ.get(LAB_DIR_ENV) or Path(root) / ".lab")


def locate(explicit: str | None, root: Path) -> tuple[Path, bool]:
    """Find the target file: --target, then $STACKPROOF_TARGET, then the lab's own description.

    Returns the path and whether it is the lab's default target.
    """
    chosen = explicit or os.environ.get(TARGET_ENV)
    if chosen:
        return Path(chosen), False
    candidate = lab_dir(root) / "stackproof.yaml"
    if candidate.is_file():
        return candidate, True
    raise TargetError(
        "no target given (--target or $STACKPROOF_TARGET) and no lab here: "
        "start the lab with `stackproof lab up`, or name a target"
    )
