"""tox plugin: pass the environment variables the target refers to (`password: {env: VAR}`) into the run.

tox hands a test environment only the variables its `pass_env` names, so a vCenter password in $VC1_PASSWORD
never reached `tox -e smoke`. The target is the one the run will use: `--target FILE` among the positional
arguments, else $STACKPROOF_TARGET, else the lab's own description. tox runs this without stackproof installed,
so the target is read as text: the only `env:` key of the schema is a secret reference's.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tox.config.sets import EnvConfigSet
from tox.plugin import impl
from tox.session.state import State

ENV_REFERENCE = re.compile(r"""(?:^|[\s{,])env\s*:\s*["']?([A-Za-z_][A-Za-z0-9_]*)""", re.MULTILINE)


def target_path(pos_args: tuple[str, ...] | None, root: Path) -> Path:
    """The target description a run with these positional arguments will use."""
    args = list(pos_args or ())
    for index, arg in enumerate(args):
        if arg == "--target" and index + 1 < len(args):
            return root / args[index + 1]
        if arg.startswith("--target="):
            return root / arg.split("=", 1)[1]
    if os.environ.get("STACKPROOF_TARGET"):
        return root / os.environ["STACKPROOF_TARGET"]
    return Path(os.environ.get("STACKPROOF_LAB_DIR") or root / ".lab") / "stackproof.yaml"


def referenced_variables(path: Path) -> list[str]:
    """The environment variables a target description refers to (none when it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    return sorted(set(ENV_REFERENCE.findall(text)))


@impl
def tox_add_env_config(env_conf: EnvConfigSet, state: State) -> None:
    root = Path(state.conf.core["tox_root"])
    names = referenced_variables(target_path(state.conf.pos_args(None), root))
    if names:
        env_conf["pass_env"].extend(name for name in names if name not in env_conf["pass_env"])
