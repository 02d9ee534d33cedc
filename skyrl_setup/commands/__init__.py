"""One module per command. Each `run(args, reporter)` returns a CommandResult."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from skyrl_setup.errors import ExitCode


@dataclass(frozen=True)
class CommandResult:
    doc: dict
    exit_code: ExitCode = ExitCode.OK
    notes: tuple[str, ...] = field(default=())


def default_venv(backend: str) -> Path:
    from skyrl_setup.preflight import user_dir

    return user_dir("SKYRL_SETUP_HOME", "data", "the default environment location") / "envs" / backend
