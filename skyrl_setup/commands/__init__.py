"""One module per command. Each `run(args, reporter)` returns a CommandResult."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir

from skyrl_setup.errors import ExitCode


@dataclass(frozen=True)
class CommandResult:
    doc: dict
    exit_code: ExitCode = ExitCode.OK
    notes: tuple[str, ...] = field(default=())


def default_venv(backend: str) -> Path:
    home = os.environ.get("SKYRL_SETUP_HOME") or user_data_dir("skyrl-setup")
    return Path(home) / "envs" / backend
