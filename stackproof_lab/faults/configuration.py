"""Faults in config files: one option changed (or removed) in one file on one host."""

from __future__ import annotations

from dataclasses import dataclass

from stackproof_lab import configs
from stackproof_lab.configs.ini import Overrides
from stackproof_lab.faults.base import Action, Lab


@dataclass(frozen=True)
class ConfigOption(Action):
    """Change (value) or remove (value None) one option in one config file; its readers restart with it
    (the "configuration" step renders every file with the overrides in force and stops the readers of
    files that changed; their own steps start them again)."""

    config_id: str
    section: str
    option: str
    value: object

    def overrides(self) -> Overrides:
        return {self.config_id: {self.section: {self.option: self.value}}}

    def inject(self, lab: Lab) -> str:
        return self._apply(lab)

    def clear(self, lab: Lab) -> str:
        return self._apply(lab)

    def _apply(self, lab: Lab) -> str:
        config = configs.get(self.config_id)
        readers = [name for name in config.readers if name not in lab.suppressed]
        lab.converge(["configuration", *readers])
        return f"{config.host}:{config.path}: [{self.section}] {self.option}; {', '.join(readers)} restarted"
