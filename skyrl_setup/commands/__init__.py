"""One module per command: `run(request, ui) -> Result`. No printing, no argparse, no os.environ writes,
no input(); progress and questions go through `ui` (skyrl_setup/ui.py). No command module imports another."""

from __future__ import annotations

from pathlib import Path


def default_venv(backend: str) -> Path:
    from skyrl_setup.preflight import user_dir

    return user_dir("SKYRL_SETUP_HOME", "data", "the default environment location") / "envs" / backend
