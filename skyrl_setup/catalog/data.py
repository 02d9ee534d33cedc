"""Where the bundled profiles, releases, lockfiles and package roles live.

An installed wheel carries them under skyrl_setup/_data; a source checkout keeps them
at the repository's top level. SKYRL_SETUP_DATA_DIR overrides both (tests, forks).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # skyrl_setup/: this module sits one folder below it


def data_dir() -> Path:
    from skyrl_setup import settings

    override = settings.current().data_dir
    if override:
        # checked here, once for every caller: a wrong folder otherwise reads as "unknown backend 'sglang'"
        if not (Path(override) / "profiles").is_dir():
            from skyrl_setup.errors import UsageError

            what = "is no directory" if not Path(override).is_dir() else "has no profiles/ folder"
            raise UsageError(f"SKYRL_SETUP_DATA_DIR={override} {what}",
                             "point it at a folder holding profiles/ and lockfiles/ (a copy of skyrl-setup's data), or unset it")
        return Path(override)
    return _own_data_dir()


def _own_data_dir() -> Path:
    bundled = _PACKAGE_DIR / "_data"
    if (bundled / "profiles").is_dir():
        return bundled
    return _PACKAGE_DIR.parent


def profiles_dir() -> Path:
    return data_dir() / "profiles"


def lockfiles_dir() -> Path:
    return data_dir() / "lockfiles"


def package_roles_file() -> Path:
    """SKYRL_SETUP_DATA_DIR's package-roles.toml where it has one, else the tool's own: a data folder made before the
    file existed, or one that changes only the profiles, keeps working."""
    in_data_dir = data_dir() / "package-roles.toml"
    return in_data_dir if in_data_dir.is_file() else _own_data_dir() / "package-roles.toml"
