"""Package roles: what a package is to skyrl-setup, read from package-roles.toml into one frozen value.

One file, not a key in each profile: a role belongs to the package, whichever backend pins it. The
resolver takes the torch-relevant names of several profiles at once (check-compat --backend A --backend B)
and doctor reads the kernels of whatever the environment holds, so per-profile lists would have to be
merged, and would drift apart, for the same answer. A profile still decides what it *verifies*
(`modules`): doctor runs the check_env modules that the profile also lists.

Data, not code, so that a fork (SKYRL_SETUP_DATA_DIR) can teach the tool a new engine's kernels without a
release; each entry carries why it has its role, which the loader requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from packaging.utils import canonicalize_name

from skyrl_setup._toml import TableReader, read_toml
from skyrl_setup.catalog.data import package_roles_file
from skyrl_setup.errors import UsageError

ROLES = ("torch_relevant", "not_torch_relevant", "engine_kernels", "check_env_modules", "summary", "drift")


class PackageRolesError(UsageError):
    pass


@dataclass(frozen=True)
class PackageRoles:
    torch_relevant: frozenset[str]  # canonical distribution names whose pins decide CUDA compatibility
    not_torch_relevant: frozenset[str]  # pinned roots whose requirements the resolver does not follow
    engine_kernels: tuple[str, ...]  # distributions whose shared objects doctor scans for GPU architectures
    check_env_modules: tuple[str, ...]  # import names, in check_env.py's order
    summary: tuple[str, ...]  # what check-compat's one line names
    drift: tuple[str, ...]  # what a cluster's nodes must agree on, in the order of the drift fields


def package_roles() -> PackageRoles:
    """The roles in force (SKYRL_SETUP_DATA_DIR's file where it has one), read once per file."""
    return load(package_roles_file())


@cache
def load(path: Path) -> PackageRoles:
    r = TableReader(read_toml(path, PackageRolesError), path, PackageRolesError,
                    "fix package-roles.toml, or restore it from skyrl-setup's own")
    unknown = sorted(set(r.raw) - set(ROLES))
    if unknown:
        raise r.fail(unknown[0], f"not a role (roles: {', '.join(ROLES)})")
    tables = {role: _entries(r, role) for role in ROLES}
    canon = {role: tuple(dict.fromkeys(canonicalize_name(n) for n in names)) for role, names in tables.items()
             if role != "check_env_modules"}
    both = sorted(set(canon["torch_relevant"]) & set(canon["not_torch_relevant"]))
    if both:
        raise r.fail(f"not_torch_relevant.{both[0]}", "also listed under [torch_relevant]: a package is one or the other")
    return PackageRoles(torch_relevant=frozenset(canon["torch_relevant"]), not_torch_relevant=frozenset(canon["not_torch_relevant"]),
                        engine_kernels=canon["engine_kernels"], check_env_modules=tables["check_env_modules"],
                        summary=canon["summary"], drift=canon["drift"])


def _entries(r: TableReader, role: str) -> tuple[str, ...]:
    """A role's names, in the file's order; each must say why it has the role."""
    r.get(role, dict)  # a missing role is an error, not an empty one: an older fork's file would silently lose it
    table = r.str_table(role)
    for name, why in table.items():
        if not why.strip():
            raise r.fail(f"{role}.{name}", "give the reason this package has the role")
    return tuple(table)
