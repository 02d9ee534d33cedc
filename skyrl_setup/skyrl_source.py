"""SkyRL's own project and lock as the source of truth for a backend's versions.

A source is a folder holding skyrl-train's `pyproject.toml` and `uv.lock`: a SkyRL
checkout (`SkyRL/skyrl-train`), or a release's two files. Its lock is the set SkyRL's CI
installed; `uv export` turns one extra of it into a PEP 751 lock without the network.
Reading a source is pure; exporting runs uv.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from skyrl_setup._toml import toml_reader
from skyrl_setup.errors import UsageError
from skyrl_setup.humanize import sh
from skyrl_setup.uvtool import Uv


@dataclass(frozen=True)
class SkyrlSource:
    root: Path
    name: str  # skyrl-train
    version: str  # the project's own version (pyproject), which PyPI's release carries
    lock_sha256: str
    extras: tuple[str, ...]  # what the lock provides
    dependencies: tuple[str, ...]  # the project's base requirements
    extra_requirements: dict[str, tuple[str, ...]]  # extra -> the pyproject's requirements
    path_sources: dict[str, Path]  # workspace members installed from a folder (skyrl-gym)
    overrides: tuple[str, ...] = ()  # [tool.uv] override-dependencies: part of how SkyRL resolved
    requires_python: str = ""

    @property
    def label(self) -> str:
        return self.root.name

    def identity(self) -> dict[str, str]:
        return {"skyrl-source": self.label, "skyrl-version": self.version, "skyrl-lock-sha256": self.lock_sha256}

    def requirements(self, extra: str) -> tuple[str, ...]:
        return self.extra_requirements.get(extra, ())

    def checkout_has(self, name: str) -> bool:
        """Whether a path source's folder holds a buildable project (a release's files do not)."""
        path = self.path_sources.get(canonicalize_name(name))
        return bool(path and ((path / "pyproject.toml").is_file() or (path / "setup.py").is_file())
                    and any(p.is_dir() and p.name != "tests" and (p / "__init__.py").is_file() for p in path.iterdir()))


def _fail(root: Path, what: str, hint: str) -> UsageError:
    return UsageError(f"SkyRL source {root}: {what}", hint)


def read(folder: str | Path) -> SkyrlSource:
    root = Path(folder).expanduser().resolve()
    if (root / "skyrl-train" / "pyproject.toml").is_file() and not (root / "pyproject.toml").is_file():
        root = root / "skyrl-train"  # the repository's root was given
    pyproject, lockfile = root / "pyproject.toml", root / "uv.lock"
    if not pyproject.is_file():
        raise _fail(root, "no pyproject.toml", "give skyrl-train's folder of a SkyRL checkout (or a release's files)")
    if not lockfile.is_file():
        raise _fail(root, "no uv.lock beside pyproject.toml", f"create it with `uv lock --project {sh(root)}`")
    try:
        lock_bytes = lockfile.read_bytes()
        project = toml_reader.loads(pyproject.read_text(encoding="utf-8"))
        lock = toml_reader.loads(lock_bytes.decode("utf-8"))
    except (OSError, UnicodeDecodeError, toml_reader.TOMLDecodeError) as exc:
        raise _fail(root, f"cannot read its pyproject.toml or uv.lock ({exc})", "check the files") from None
    meta = project.get("project") or {}
    name, version = meta.get("name"), meta.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        raise _fail(root, "pyproject.toml has no static project name and version", "give skyrl-train's pyproject.toml")
    try:
        deps = tuple(str(Requirement(r)) for r in meta.get("dependencies", []))
        extras = {e: tuple(str(Requirement(r)) for r in reqs) for e, reqs in (meta.get("optional-dependencies") or {}).items()}
    except (InvalidRequirement, TypeError) as exc:
        raise _fail(root, f"pyproject.toml has an invalid requirement ({exc})", "fix pyproject.toml") from None
    uv_table = (project.get("tool") or {}).get("uv") or {}
    paths = {canonicalize_name(n): (root / s["path"]).resolve()
             for n, s in (uv_table.get("sources") or {}).items() if isinstance(s, dict) and "path" in s}
    root_pkg = next((p for p in lock.get("package", []) if canonicalize_name(p.get("name", "")) == canonicalize_name(name)), None)
    if root_pkg is None:
        raise _fail(root, f"uv.lock does not lock {name}", f"re-create it: `uv lock --project {sh(root)}`")
    provided = tuple((root_pkg.get("metadata") or {}).get("provides-extras") or ())
    overrides = uv_table.get("override-dependencies") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise _fail(root, "[tool.uv] override-dependencies is not a list of requirements", "fix pyproject.toml")
    source = SkyrlSource(root, canonicalize_name(name), version, hashlib.sha256(lock_bytes).hexdigest(), provided, deps,
                         extras, paths, tuple(overrides), str(meta.get("requires-python") or ""))
    _check_fresh(source, root_pkg)
    return source


def _check_fresh(source: SkyrlSource, root_pkg: dict) -> None:
    """The lock was made from this pyproject: the same names per extra, and every version specifier the
    pyproject states is one the lock recorded (uv's own check needs the network; uv splits a requirement
    by marker where sources apply, so specifiers are compared per name, not per extra)."""
    locked: set[tuple[str, str]] = set()
    locked_specs: dict[str, set[str]] = {}
    for r in (root_pkg.get("metadata") or {}).get("requires-dist") or []:
        marker = r.get("marker", "")
        extra = marker.split("extra == '", 1)[1].split("'", 1)[0] if "extra == '" in marker else ""
        name = canonicalize_name(r["name"])
        locked.add((name, extra))
        locked_specs.setdefault(name, set()).add(str(SpecifierSet(r.get("specifier", ""))))
    wanted: set[tuple[str, str]] = set()
    stale_specs = []
    for extra, reqs in [("", source.dependencies), *source.extra_requirements.items()]:
        for r in reqs:
            req = Requirement(r)
            name = canonicalize_name(req.name)
            wanted.add((name, extra))
            if not req.url and str(req.specifier) not in locked_specs.get(name, {str(req.specifier)}):
                stale_specs.append(f"{name}{req.specifier}")
    if locked != wanted or stale_specs:
        diff = sorted(f"{n}{f' [{e}]' if e else ''}" for n, e in locked ^ wanted) + sorted(stale_specs)
        raise _fail(source.root, f"uv.lock is stale against pyproject.toml (differs in: {', '.join(diff[:5])})",
                    f"re-lock it: `uv lock --project {sh(source.root)}`")


def require_extra(source: SkyrlSource, extra: str) -> None:
    if extra not in source.extras or extra not in source.extra_requirements:
        have = ", ".join(source.extras) or "none"
        raise _fail(source.root, f"its lock has no extra {extra!r} (it has: {have})",
                    f"add the extra to pyproject.toml and re-lock: `uv lock --project {sh(source.root)}`")


def export(uv: Uv, source: SkyrlSource, extra: str, output: Path) -> Path:
    """One extra of SkyRL's lock as a PEP 751 lock, offline, exactly as locked."""
    require_extra(source, extra)
    output.parent.mkdir(parents=True, exist_ok=True)
    uv.export(source.root, extra, output)
    return output
