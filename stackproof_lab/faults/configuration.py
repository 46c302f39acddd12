"""Faults in config files: one option changed (or removed) in one file on one host."""

from __future__ import annotations

from dataclasses import dataclass

from stackproof_lab import configs, services
from stackproof_lab.configs.ini import Overrides
from stackproof_lab.faults.base import Action, Lab


@dataclass(frozen=True)
class ConfigOption(Action):
    """Change (value) or remove (value None) one option in one config file, and restart the services that read
    that option (`restart`; default: every reader of the file). Only those: restarting nova-conductor for an
    option only the API reads would leave every compute waiting a whole RPC timeout on its heartbeat."""

    config_id: str
    section: str
    option: str
    value: object
    restart: tuple[str, ...] = ()
    # Further (option, value) pairs of the same section that only together with this one make the fault,
    # rendered at once so that their readers restart once.
    also: tuple[tuple[str, object], ...] = ()

    def overrides(self) -> Overrides:
        return {self.config_id: {self.section: {self.option: self.value, **dict(self.also)}}}

    def inject(self, lab: Lab) -> str:
        return self._apply(lab)

    def clear(self, lab: Lab) -> str:
        return self._apply(lab)

    def _apply(self, lab: Lab) -> str:
        config = configs.get(self.config_id)
        configs.write_all(lab.layout, lab.overrides)
        readers = [name for name in (self.restart or config.readers) if name not in lab.suppressed]
        for name in readers:
            services.stop(lab.layout, services.get(name))
        lab.converge(readers)
        options = ", ".join((self.option, *(option for option, _ in self.also)))
        return f"{config.host}:{config.path}: [{self.section}] {options}; {', '.join(readers)} restarted"
