"""Config files as data: a file is a dict of sections, rendered to INI (or RabbitMQ's flat format)."""

from __future__ import annotations

Sections = dict[str, dict[str, object]]
Overrides = dict[str, Sections]  # config id -> sections -> option -> value (None: remove the option)


def merge(base: Sections, extra: Sections) -> Sections:
    merged = {section: dict(options) for section, options in base.items()}
    for section, options in extra.items():
        merged.setdefault(section, {}).update(options)
    return merged


def merge_overrides(parts: list[Overrides]) -> Overrides:
    merged: Overrides = {}
    for part in parts:
        for cid, sections in part.items():
            for section, options in sections.items():
                merged.setdefault(cid, {}).setdefault(section, {}).update(options)
    return merged


def apply_overrides(sections: Sections, overrides: Sections) -> Sections:
    """Baseline plus fault overrides; an override value of None removes the option."""
    result = merge(sections, {})
    for section, options in overrides.items():
        target = result.setdefault(section, {})
        for option, value in options.items():
            if value is None:
                target.pop(option, None)
            else:
                target[option] = value
    return result


def render(sections: Sections, *, flat: bool = False) -> str:
    """INI text (or ``key = value`` lines for RabbitMQ's sysctl-like format when ``flat``)."""
    lines = ["# Written by the stackproof lab (python -m stackproof_lab up); edits are overwritten."]
    for section, options in sections.items():
        if not flat:
            lines.append(f"\n[{section}]")
        for option, value in options.items():
            if value is None:
                lines.append(option)  # a bare flag (my.cnf)
            elif isinstance(value, list):
                lines.extend(f"{option} = {item}" for item in value)  # oslo.config MultiStrOpt
            elif isinstance(value, bool):
                lines.append(f"{option} = {'true' if value else 'false'}")
            else:
                lines.append(f"{option} = {value}")
    return "\n".join(lines) + "\n"
