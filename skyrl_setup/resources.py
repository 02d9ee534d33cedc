"""Where the bundled profiles and lockfiles live.

An installed wheel carries them under skyrl_setup/_data; a source checkout keeps them
at the repository's top level. SKYRL_SETUP_DATA_DIR overrides both (tests, forks).
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    override = os.environ.get("SKYRL_SETUP_DATA_DIR")
    if override:
        return Path(override)
    bundled = _PACKAGE_DIR / "_data"
    if (bundled / "profiles").is_dir():
        return bundled
    return _PACKAGE_DIR.parent


def profiles_dir() -> Path:
    return data_dir() / "profiles"


def lockfiles_dir() -> Path:
    return data_dir() / "lockfiles"
