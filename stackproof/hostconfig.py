"""Reading service configuration from hosts: nova.conf, cinder.conf and friends, wherever the target says.

Files are read through testinfra (``host.file(path).content_string``) and parsed with configparser the way
oslo.config would accept them: no interpolation, duplicate keys tolerated.
"""

from __future__ import annotations

import configparser

from stackproof.target import HostRole


class HostConfigError(Exception):
    pass


_TRUE = frozenset({"true", "1", "yes", "on"})


def is_true(value: object) -> bool:
    """oslo.config's reading of a boolean option."""
    return str(value).strip().lower() in _TRUE


def parse_ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # oslo.config keys are case-sensitive
    parser.read_string(text)
    return parser


def read_service_config(host, role_name: str, role: HostRole, service: str) -> configparser.ConfigParser:
    """Parse `service`'s config file on `host`, at the path the target gives for the role."""
    path = role.config.get(service)
    if not path:
        raise HostConfigError(f"the target gives no {service} config path for host role {role_name!r}")
    return parse_ini(read_text(host, path, f"{service} config"))


def read_text(host, path: str, what: str) -> str:
    """A text file on `host`, in one command (testinfra's file module costs five ssh round trips: its system
    detection, a test and the read)."""
    result = host.run("cat -- %s", path)
    if result.rc != 0:
        problem = result.stderr.strip().splitlines()[-1:] or [f"exit {result.rc}"]
        raise HostConfigError(f"{what} {path} cannot be read on {host.backend.get_hostname()}: {problem[0]}")
    return result.stdout
