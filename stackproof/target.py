"""The target description (`stackproof.yaml`): what the deployment under test should look like.

It is validated with a strict schema before any check runs. A bad file is reported as one line per problem
naming the file, the line, the key and what is wrong (exit code 4). Secrets are never written in the file:
passwords are references to an environment variable or to a key of a secure.yaml. Every field carries a
description: `stackproof schema` prints the JSON Schema that editors use to complete and check the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from stackproof.errors import TargetError

TARGET_ENV = "STACKPROOF_TARGET"
LAB_DIR_ENV = "STACKPROOF_LAB_DIR"
SECURE_YAML = "secure.yaml"
TESTINFRA_SCHEMES = ("local", "ssh", "paramiko", "ansible", "docker", "podman", "kubectl", "lxc", "salt", "winrm")


class _Strict(BaseModel):
    # Unknown keys are errors: a typo in an expectation must not silently turn a check off.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Strict):
    """Where a secret lives: an environment variable, or a dotted key of the secure.yaml."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                            description="name of the environment variable holding the secret")
    secure: str | None = Field(default=None, min_length=1, description="dotted key of the secure.yaml holding the "
                               "secret (e.g. vcenters.vc1.password)")

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
    url: str = Field(pattern=r"^https?://[^/\s]+", description="the endpoint's URL (https://host[:port]/path)")
    user: str = Field(min_length=1, description="the account stackproof logs in with")
    password: SecretRef = Field(description="where the account's password lives ({env: VAR} or {secure: key})")
    ca_bundle: Path | None = Field(default=None, description="PEM file of the CA(s) that signed the endpoint's "
                                   "certificate, relative to this file; default: the system's CAs")
    insecure: bool = Field(default=False, description="skip TLS verification (a lab only); excludes ca_bundle")

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
    """A vCenter the VMware computes use, reached through its SDK endpoint (https://vc/sdk)."""


class NsxManager(_TlsEndpoint):
    """The NSX manager the Neutron plugin uses."""


class Clouds(_Strict):
    """Which clouds.yaml entries play which role."""

    cloud: str = Field(min_length=1, description="clouds.yaml entry of the cloud under test (admin)")
    member: str | None = Field(default=None, description="clouds.yaml entry of an ordinary project member, for "
                               "checks that must see what a tenant sees")
    reader: str | None = Field(default=None, description="clouds.yaml entry of an account that may read what "
                               "`cloud` reads but change nothing (a reader or auditor role the cloud's policies "
                               "grant the admin reads): readonly checks use it, so the cloud itself refuses a write")
    undercloud: str | None = Field(default=None, description="clouds.yaml entry of the undercloud (OpenStack on "
                                   "OpenStack)")
    overcloud: str | None = Field(default=None, description="clouds.yaml entry of the overcloud (OpenStack on "
                                  "OpenStack)")


class HostRole(_Strict):
    """Hosts that play one role (scheduler, compute-kvm, ...), reached through testinfra."""

    urls: list[str] = Field(min_length=1, description="testinfra backend URLs of the role's hosts (ssh://host, "
                            "paramiko://user@host, local://, ...)")
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


class SshAccess(_Strict):
    """How a runner reaches the hosts whose URL is ssh://, with the files a deployment's automation writes
    for it. Host keys are always verified: every ssh:// host is checked against `known_hosts` with
    StrictHostKeyChecking=yes, whatever the ssh_config says."""

    config: Path | None = Field(default=None, description="ssh_config passed as -F (HostName, User, Port, "
                                "ProxyJump ... of each host the URLs name)")
    known_hosts: Path = Field(description="known_hosts holding the host key of every ssh:// host "
                              "(UserKnownHostsFile; a host not in it is refused, never trusted on first use)")
    identity_file: Path | None = Field(default=None, description="private key passed as -i")


class Aggregate(_Strict):
    """A host aggregate the architecture requires."""

    name: str = Field(min_length=1, description="the aggregate's name in nova")
    hypervisor_type: str = Field(min_length=1, description="the hypervisor type of its hosts as nova reports it "
                                 "(QEMU, VMware vCenter Server)")


class ImagePolicy(_Strict):
    """How image metadata steers instances to an aggregate."""

    isolation: list[Literal["aggregate_image_properties_isolation", "isolate_aggregates"]] = Field(
        min_length=1, description="the scheduler mechanisms that must enforce it (filter and/or placement "
        "pre-filter)")
    metadata_key: str = Field(default="img_hv_type", description="the image property (and aggregate metadata key) "
                              "that names the hypervisor")
    namespace: str | None = Field(default=None, description="aggregate_image_properties_isolation_namespace, "
                                  "when the filter is configured with one")


class Drs(_Strict):
    """vSphere DRS as the clusters behind the VMware computes must have it."""

    enabled: bool = Field(default=True, description="DRS must be on")
    behavior: Literal["fullyAutomated", "partiallyAutomated", "manual"] = Field(
        default="fullyAutomated", description="the DRS automation level the clusters must have")


class DataNetwork(_Strict):
    """The dedicated network the computes reach shared storage over."""

    nic: str = Field(min_length=1, description="the data NIC's name on the compute hosts (e.g. data0)")
    mtu: int = Field(ge=576, le=9216, description="the MTU the data NIC must have")
    subnet: str | None = Field(default=None, description="the storage subnet (CIDR) the NIC's address must be in")
    roles: list[str] = Field(default_factory=list, description="host roles that must have the NIC (default: every "
                             "compute-* role)")
    # The route to the storage must leave through `nic` (`ip route get`), not through the management NIC.
    storage_target: str | None = Field(default=None, description="an address of the storage the computes reach "
                                       "over the data network (an iSCSI portal, an NFS server)")


class VolumeType(_Strict):
    """A volume type and where it must land."""

    name: str = Field(min_length=1, description="the volume type's name in cinder")
    backend: str = Field(min_length=1, description="volume_backend_name of the backend it must map to")
    hypervisor: Literal["kvm", "vmware"] = Field(description="the hypervisor side its volumes serve")


class Failover(_Strict):
    """nova-compute failover timing the architecture promises."""

    service_down_time: int = Field(gt=0, description="nova's service_down_time in seconds")
    report_interval: int = Field(gt=0, description="nova's report_interval in seconds")
    # The architecture's recovery bound is report_interval + restart_margin (a cold Python start with the
    # VMware driver is not instant).
    restart_margin: int = Field(default=60, gt=0, description="seconds a restarted nova-compute may take to start "
                                "and send its first report")
    # The driver notices a lost vCenter, and placement mirrors the disabled service, only in that periodic task.
    resource_update_interval: int = Field(default=60, gt=0, description="nova's [DEFAULT] update_resources_interval "
                                          "on the VMware computes, in seconds")


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
                                  "instances through (SP-NSX-008, SP-NSX-010); unset: the cloud's only external "
                                  "network")
    guest_user: str | None = Field(
        default=None, min_length=1,
        description="the user a server's key pair logs in as on the images the NSX checks boot (cirros, ubuntu, "
                    "...): SP-NSX-010 runs commands inside servers; unset: SP-NSX-010 is not evaluated")


class NestedDesign(_Strict):
    """OpenStack on OpenStack as designed (SP-NEST-*): the overcloud (clouds.overcloud) runs on servers of the
    undercloud (clouds.undercloud). Which servers those are, and which overcloud services run where, the checks
    take from the two clouds; the design says how the overcloud's networks ride the undercloud and which host
    roles of the inventory are whose computes."""

    network_mode: Literal["vlan", "overlay"] = Field(
        description="how the design carries the overcloud's tenant networks. vlan: on VLANs, carried by undercloud "
                    "trunk sub-ports (or a vlan-transparent undercloud network); overlay: tunnelled over undercloud "
                    "networks whose MTU must fit the encapsulation. Whatever the mode, SP-NEST-004 holds every "
                    "overcloud VLAN network to the first and every tunnelled one to the second")
    geneve_max_header_size: int = Field(
        default=30, ge=0, le=256,
        description="the overcloud's [ml2_type_geneve] max_header_size: a Geneve network's overhead is it + 20 "
                    "(IPv4) bytes; VXLAN's is 50 (SP-NEST-004)")
    bridged_networks: list[str] = Field(
        default_factory=list,
        description="undercloud networks (name or id) that carry overcloud provider or external networks: overcloud "
                    "nodes' ports on them bridge nested guests' MACs, so their port security must be off "
                    "(SP-NEST-005); overcloud nodes' trunk ports are checked whether listed or not")
    undercloud_compute_roles: list[str] = Field(
        default_factory=list,
        description="host roles (under hosts) of the undercloud computes that run overcloud nodes: they must "
                    "expose nested virtualisation where an overcloud compute uses KVM (SP-NEST-006)")
    overcloud_compute_roles: list[str] = Field(
        default_factory=list,
        description="host roles (under hosts) of the overcloud computes: their [libvirt] virt_type must be kvm only "
                    "where the node really offers it (SP-NEST-006..008)")
    external_network: str | None = Field(
        default=None, description="the overcloud's external network (name or id) whose floating IPs the runner "
                                  "reaches overcloud guests through (SP-NEST-009); unset: the overcloud's only one")
    guest_image: str | None = Field(
        default=None, min_length=1, description="the overcloud image (name or id) SP-NEST-009 boots; unset: the "
                                                "overcloud's smallest active qcow2 or raw image")
    guest_user: str | None = Field(
        default=None, min_length=1,
        description="the user a server's key pair logs in as on that image (cirros, ubuntu, ...); unset: SP-NEST-009 "
                    "is not evaluated")


class Architecture(_Strict):
    """What the deployment promises: the expectations the checks verify."""

    aggregates: list[Aggregate] = Field(default_factory=list, description="the aggregates that must exist")
    image_policy: ImagePolicy | None = Field(default=None, description="how image metadata selects an aggregate")
    drs: Drs | None = Field(default=None, description="the DRS settings of the vCenter clusters")
    datastore_pattern: str | None = Field(default=None, description="regular expression the VMware computes' "
                                          "datastore_regex must match")
    data_network: DataNetwork | None = Field(default=None, description="the dedicated storage network")
    volume_types: list[VolumeType] = Field(default_factory=list, description="volume types and their backends")
    volume_steering: VolumeSteering | None = Field(
        default=None, description="the mechanism expected to steer volume-backed servers; unset: any working one")
    failover: Failover | None = Field(default=None, description="nova-compute failover timing")
    nsx: NsxDesign | None = Field(default=None, description="the NSX attachment; unset: the nsx area is not evaluated")
    nested: NestedDesign | None = Field(
        default=None, description="OpenStack on OpenStack; unset: the nested area is not evaluated")

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

    profile: str = Field(default="default", description="a name for this set of limits, shown in reports")
    interval: float = Field(default=2.0, gt=0, description="seconds between two polls of a wait")
    default: float = Field(default=120.0, gt=0, description="limit of any wait without its own entry")
    server_active: float = Field(default=300.0, gt=0, description="a server to become ACTIVE")
    server_deleted: float = Field(default=180.0, gt=0, description="a server to be gone")
    volume_available: float = Field(default=180.0, gt=0, description="a volume to become available")
    volume_deleted: float = Field(default=180.0, gt=0, description="a volume to be gone")
    attach: float = Field(default=180.0, gt=0, description="a volume attachment or detachment")
    image_active: float = Field(default=600.0, gt=0, description="an image to become active")
    service_state: float = Field(default=180.0, gt=0, description="a service to reach a state (up, down, healthy)")

    def get(self, name: str) -> float:
        value = getattr(self, name, None)
        return float(value) if isinstance(value, int | float) and name != "interval" else self.default


class _HostCommands(_Strict):
    """Shell commands a disruptive check runs through testinfra on a host of `role` (the first URL unless
    `url` names one); each must exit 0."""

    role: str = Field(min_length=1, description="the host role (under hosts) whose host runs the commands")
    url: str | None = Field(default=None, description="which of the role's URLs; default: the first")


class ServiceActions(_HostCommands):
    """How to crash a service so that it stays down, how to start it again, and (optionally) how to tell it
    runs: `check` exits 0 once it does."""

    kill: str = Field(min_length=1, description="shell command that crashes the service so that it stays down")
    start: str = Field(min_length=1, description="shell command that starts it again")
    check: str | None = Field(default=None, description="shell command that exits 0 once the service runs")


class LinkActions(_HostCommands):
    """How to cut a host's path to something it needs (its vCenter) and how to restore it."""

    cut: str = Field(min_length=1, description="shell command that cuts the host's path to its vCenter")
    restore: str = Field(min_length=1, description="shell command that restores it")


class Faults(_Strict):
    """The fault inventory (after os-faults): what disruptive checks may do to this target, and how.

    `services` keys are `<binary>@<host as the API shows it>` (`nova-compute@compute-7`); `vcenter_access`
    keys are the API host of a VMware nova-compute. A check whose action is not declared is skipped, naming
    the key it looked for.
    """

    services: dict[str, ServiceActions] = Field(default_factory=dict, description="<binary>@<host> -> how to "
                                                 "kill and start that service")
    vcenter_access: dict[str, LinkActions] = Field(default_factory=dict, description="API host of a VMware "
                                                   "nova-compute -> how to cut and restore its vCenter access")

    @field_validator("services")
    @classmethod
    def _service_keys(cls, services: dict[str, ServiceActions]) -> dict[str, ServiceActions]:
        for key in services:
            binary, _, host = key.partition("@")
            if not binary or not host:
                raise ValueError(f"{key!r}: service keys are <binary>@<host>, e.g. nova-compute@compute-7")
        return services


class Target(_Strict):
    """A deployment under test (stackproof.yaml): its clouds, endpoints, hosts and what its architecture promises."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="the target's name; "
                      "--allow-disruptive must repeat it")
    clouds_yaml: Path | None = Field(default=None, description="the openstacksdk clouds.yaml, relative to this file; "
                                     "when given it is the only one used (OS_CLIENT_CONFIG_FILE is ignored); "
                                     "default: openstacksdk's usual locations")
    secure_yaml: Path | None = Field(default=None, description="the secure.yaml with passwords, relative to this "
                                     "file; default: secure.yaml beside clouds_yaml, when it exists")
    clouds: Clouds = Field(description="which clouds.yaml entries play which role")
    vcenters: dict[str, VCenter] = Field(default_factory=dict, description="vCenters by name")
    nsx: NsxManager | None = Field(default=None, description="the NSX manager")
    ssh: SshAccess | None = Field(default=None, description="ssh_config, known_hosts and key for ssh:// hosts")
    hosts: dict[str, HostRole] = Field(default_factory=dict, description="host roles and their testinfra URLs")
    architecture: Architecture = Field(default_factory=Architecture, description="what the architecture promises")
    timeouts: Timeouts = Field(default_factory=Timeouts, description="limits of the checks' waits, in seconds")
    faults: Faults | None = Field(default=None, description="what disruptive checks may do, and how")
    # Where the description was read from: set by load(), never by the file.
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        return self._source

    @model_validator(mode="after")
    def _nested_clouds_and_roles_exist(self) -> Target:
        nested = self.architecture.nested
        if nested is None:
            return self
        missing = [f"clouds.{name}" for name in ("undercloud", "overcloud") if not getattr(self.clouds, name)]
        if missing:
            raise ValueError(f"architecture.nested needs {' and '.join(missing)} (clouds.yaml entries)")
        for key in ("undercloud_compute_roles", "overcloud_compute_roles"):
            for role in getattr(nested, key):
                if role not in self.hosts:
                    raise ValueError(f"architecture.nested.{key}: role {role!r} is not one of hosts")
        return self

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

    def secret_refs(self) -> list[tuple[str, SecretRef]]:
        """Every secret reference of the description, with the dotted key it stands at."""
        found: list[tuple[str, SecretRef]] = []

        def walk(value: Any, where: str) -> None:
            if isinstance(value, SecretRef):
                found.append((where, value))
            elif isinstance(value, BaseModel):
                for name in type(value).model_fields:
                    walk(getattr(value, name), f"{where}.{name}" if where else name)
            elif isinstance(value, Mapping):
                for key, item in value.items():
                    walk(item, f"{where}.{key}")
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    walk(item, f"{where}[{index}]")

        walk(self, "")
        return found

    def env_names(self) -> list[str]:
        """The environment variables the description refers to."""
        return sorted({ref.env for _where, ref in self.secret_refs() if ref.env})

    def secret(self, ref: SecretRef, where: str) -> str:
        """Resolve a secret reference; `where` names the key for the error message."""
        if ref.env is not None:
            value = os.environ.get(ref.env)
            if not value:
                raise TargetError(f"{where}: environment variable {ref.env} is not set")
            return value
        if self.secure_yaml is None:
            raise TargetError(f"{where}: refers to secure.yaml key {ref.secure!r} but no secure_yaml is given")
        data = read_yaml_mapping(self.secure_yaml)
        value: Any = data
        for part in str(ref.secure).split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if not isinstance(value, str) or not value:
            raise TargetError(f"{where}: key {ref.secure!r} not found in {self.secure_yaml}")
        return value


def read_yaml_mapping(path: Path) -> Mapping[str, Any]:
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


def _problem_line(path: Path, lines: dict[tuple[Any, ...], int], error: Any) -> str:
    # pydantic inserts validator names into loc for unions/models; keep the keys the user wrote.
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    line = None
    for cut in range(len(loc), 0, -1):
        line = lines.get(loc[:cut])
        if line:
            break
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (not part of the target description)"
    elif error["type"] == "missing":
        message = "required key is missing"
    return f"{path}{':' + str(line) if line else ''}: {_dotted(loc)}: {message}"


def _problem_lines(path: Path, text: str, error: ValidationError) -> list[str]:
    """One line per problem pydantic found, each with the file, the line, the dotted key and what is wrong."""
    lines = _key_lines(text)
    return [_problem_line(path, lines, e) for e in error.errors()]


def load(path: Path) -> Target:
    """Read and validate a target description; raise TargetError (one line, every problem in `.problems`)."""
    target, problems = read(path)
    if problems:
        raise TargetError.of(problems)
    return target


def read(path: Path) -> tuple[Target | None, list[str]]:
    """The target description and its problems, one line each: without a target when the file is not one,
    with it when only files it names are missing (so that `stackproof validate` can go on looking)."""
    path = Path(path)
    if not path.is_file():
        return None, [f"{path}: target description not found"]
    try:
        data = read_yaml_mapping(path)
    except TargetError as exc:
        return None, exc.problems
    text = path.read_text(encoding="utf-8")
    try:
        target = Target.model_validate(data)
    except ValidationError as exc:
        return None, _problem_lines(path, text, exc)
    base = path.resolve().parent
    updates: dict[str, Any] = {}
    for key in ("clouds_yaml", "secure_yaml"):
        value = getattr(target, key)
        if value is not None and not value.is_absolute():
            updates[key] = base / value
    clouds_yaml = updates.get("clouds_yaml", target.clouds_yaml)
    if target.secure_yaml is None and clouds_yaml is not None and (Path(clouds_yaml).parent / SECURE_YAML).is_file():
        # openstacksdk reads a secure.yaml beside clouds.yaml; the target's {secure:} references do too.
        updates["secure_yaml"] = Path(clouds_yaml).parent / SECURE_YAML
    vcenters = {name: vc.model_copy(update={"ca_bundle": base / vc.ca_bundle})
                for name, vc in target.vcenters.items() if vc.ca_bundle is not None and not vc.ca_bundle.is_absolute()}
    if vcenters:
        updates["vcenters"] = target.vcenters | vcenters
    if target.nsx is not None and target.nsx.ca_bundle is not None and not target.nsx.ca_bundle.is_absolute():
        updates["nsx"] = target.nsx.model_copy(update={"ca_bundle": base / target.nsx.ca_bundle})
    if target.ssh is not None:
        updates["ssh"] = target.ssh.model_copy(update={
            key: value if value.is_absolute() else base / value
            for key in ("config", "known_hosts", "identity_file") if (value := getattr(target.ssh, key)) is not None})
    loaded = target.model_copy(update=updates)
    loaded._source = path.resolve()
    return loaded, _missing_files(path, loaded)


def _missing_files(path: Path, target: Target) -> list[str]:
    files = [("clouds_yaml", target.clouds_yaml), ("secure_yaml", target.secure_yaml)]
    files += [(f"vcenters.{name}.ca_bundle", vc.ca_bundle) for name, vc in target.vcenters.items()]
    files += [("nsx.ca_bundle", target.nsx.ca_bundle if target.nsx else None)]
    if target.ssh is not None:
        files += [(f"ssh.{key}", getattr(target.ssh, key)) for key in ("config", "known_hosts", "identity_file")]
    return [f"{path}: {key}: file not found: {value}" for key, value in files
            if value is not None and not Path(value).is_file()]


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


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a target description, for editors (`stackproof schema`)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://stackproof.invalid/stackproof.schema.json"} | Target.model_json_schema()
