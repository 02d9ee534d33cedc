"""SkyRL's own project and lock as the source of truth for a backend's versions.

A source is a folder holding SkyRL's `pyproject.toml` and `uv.lock`, in either of SkyRL's layouts:
`skyrl-train/` inside the repository (skyrl-train 0.x, until 2026-02), or the repository root as the
project `skyrl` (since), whose version is dynamic. A release's two files are a source too. Its lock
is the set SkyRL's CI installed; `uv export` turns one extra of it into a PEP 751 lock without the
network. Reading a source is pure; exporting runs uv.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from skyrl_setup._toml import toml_reader
from skyrl_setup.errors import UsageError
from skyrl_setup.humanize import sh
from skyrl_setup.uv.backend import Uv


@dataclass(frozen=True)
class SkyrlSource:
    root: Path
    name: str  # skyrl-train, skyrl
    version: str  # the project's own version (static, or its dynamic attribute's value), which PyPI's release carries
    lock_sha256: str
    extras: tuple[str, ...]  # what the lock provides
    dependencies: tuple[str, ...]  # the project's base requirements
    extra_requirements: dict[str, tuple[str, ...]]  # extra -> the pyproject's requirements
    path_sources: dict[str, Path]  # workspace members installed from a folder (skyrl-gym)
    overrides: tuple[str, ...] = ()  # [tool.uv] override-dependencies: part of how SkyRL resolved
    requires_python: str = ""
    layout: str = "skyrl-train"  # "skyrl-train": a folder of the repository; "root": the repository is the project
    conflicts: tuple[frozenset[str], ...] = ()  # [tool.uv] conflicts: extras that are never installed together

    @property
    def label(self) -> str:
        return self.root.name

    def identity(self) -> dict[str, str]:
        return {"skyrl-source": self.label, "skyrl-version": self.version, "skyrl-lock-sha256": self.lock_sha256}

    def requirements(self, extra: str) -> tuple[str, ...]:
        """The extra's requirements, with the project's own extras it names (`skyrl[skyrl-train]`) spelled out."""
        out: list[str] = []
        seen: set[str] = set()

        def add(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for r in self.extra_requirements.get(name, ()):
                req = Requirement(r)
                if canonicalize_name(req.name) == self.name:
                    for e in sorted(req.extras):
                        add(e)
                elif r not in out:
                    out.append(r)
        add(extra)
        return tuple(out)

    def extra_for(self, candidates: tuple[str, ...]) -> str | None:
        """The first of a backend's extra names (the catalog's, newest first) that this project has."""
        return next((e for e in candidates if e in self.extras and e in self.extra_requirements), None)

    def checkout_has(self, name: str) -> bool:
        """Whether a path source's folder holds a buildable project (a release's files do not)."""
        path = self.path_sources.get(canonicalize_name(name))
        return bool(path and ((path / "pyproject.toml").is_file() or (path / "setup.py").is_file())
                    and any(p.is_dir() and p.name != "tests" and (p / "__init__.py").is_file() for p in path.iterdir()))


def _fail(root: Path, what: str, hint: str) -> UsageError:
    return UsageError(f"SkyRL source {root}: {what}", hint)


def locate(folder: str | Path) -> Path:
    """The project folder of a SkyRL checkout, given its repository root or its project folder."""
    root = Path(folder).expanduser().resolve()
    if (root / "skyrl-train" / "pyproject.toml").is_file() and not (root / "pyproject.toml").is_file():
        return root / "skyrl-train"  # skyrl-train 0.x: the repository's root was given
    if not (root / "pyproject.toml").is_file() and root.name == "skyrl-train" and (root.parent / "pyproject.toml").is_file():
        return root.parent  # today's layout keeps a skyrl-train/ folder with only a README
    return root


def read(folder: str | Path) -> SkyrlSource:
    root = locate(folder)
    pyproject, lockfile = root / "pyproject.toml", root / "uv.lock"
    if not pyproject.is_file():
        raise _fail(root, "no pyproject.toml", "give a SkyRL checkout's folder (or a release's files)")
    if not lockfile.is_file():
        raise _fail(root, "no uv.lock beside pyproject.toml", f"create it with `uv lock --project {sh(root)}`")
    try:
        lock_bytes = lockfile.read_bytes()
        project = toml_reader.loads(pyproject.read_text(encoding="utf-8"))
        lock = toml_reader.loads(lock_bytes.decode("utf-8"))
    except (OSError, UnicodeDecodeError, toml_reader.TOMLDecodeError) as exc:
        raise _fail(root, f"cannot read its pyproject.toml or uv.lock ({exc})", "check the files") from None
    try:
        return _parse(root, project, lock, lock_bytes)
    except (TypeError, AttributeError, KeyError, ValueError) as exc:  # a table where a list belongs, and the like
        raise _fail(root, f"its pyproject.toml or uv.lock is not in the form uv reads ({type(exc).__name__}: {exc})",
                    f"check [project] and [tool.uv] in pyproject.toml, and re-create the lock: `uv lock --project {sh(root)}`") from None


def _parse(root: Path, project: dict, lock: dict, lock_bytes: bytes) -> SkyrlSource:
    meta = project.get("project") or {}
    name = meta.get("name")
    if not isinstance(name, str):
        raise _fail(root, "pyproject.toml has no project name", "give a SkyRL checkout's folder")
    try:
        deps = tuple(str(Requirement(r)) for r in meta.get("dependencies", []))
        extras = {e: tuple(str(Requirement(r)) for r in reqs) for e, reqs in (meta.get("optional-dependencies") or {}).items()}
    except (InvalidRequirement, TypeError) as exc:
        raise _fail(root, f"pyproject.toml has an invalid requirement ({exc})", "fix pyproject.toml") from None
    uv_table = (project.get("tool") or {}).get("uv") or {}
    paths: dict[str, Path] = {canonicalize_name(n): (root / s["path"]).resolve()
             for n, s in (uv_table.get("sources") or {}).items() if isinstance(s, dict) and "path" in s}
    root_pkg = next((p for p in lock.get("package", []) if canonicalize_name(p.get("name", "")) == canonicalize_name(name)), None)
    if root_pkg is None:
        raise _fail(root, f"uv.lock does not lock {name}", f"re-create it: `uv lock --project {sh(root)}`")
    version = _version(root, project, root_pkg)
    unhashed = _unhashed(lock)
    if unhashed:  # uv refuses such a lock outright, and hashing the file needs its host
        name, ver, url = unhashed[0]
        raise _fail(root, f"uv.lock names {name} {ver} at {url} without a hash, so it cannot be installed verified "
                          f"(and {len(unhashed) - 1} more file(s) like it)" if len(unhashed) > 1 else
                    f"uv.lock names {name} {ver} at {url} without a hash, so it cannot be installed verified",
                    f"re-lock where {'/'.join(url.split('/', 3)[:3])} answers (`uv lock --project {sh(root)}` records the hash)")
    provided = tuple((root_pkg.get("metadata") or {}).get("provides-extras") or ())
    overrides = uv_table.get("override-dependencies") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise _fail(root, "[tool.uv] override-dependencies is not a list of requirements", "fix pyproject.toml")
    source = SkyrlSource(root, canonicalize_name(name), version, hashlib.sha256(lock_bytes).hexdigest(), provided, deps,
                         extras, paths, tuple(overrides), str(meta.get("requires-python") or ""),
                         "skyrl-train" if canonicalize_name(name) == "skyrl-train" else "root", _conflicts(uv_table.get("conflicts")))
    _check_fresh(source, root_pkg)
    return source


def _unhashed(lock: dict) -> list[tuple[str, str, str]]:
    """Files the lock fetches from a URL without recording their hash (a direct wheel, wheels.vllm.ai's)."""
    out = []
    for p in lock.get("package", []):
        for f in [*(p.get("wheels") or []), *([p["sdist"]] if isinstance(p.get("sdist"), dict) else [])]:
            if isinstance(f, dict) and f.get("url") and not f.get("hash"):
                out.append((p.get("name", "?"), p.get("version", "?"), f["url"]))
    return out


def _version(root: Path, project: dict, root_pkg: dict) -> str:
    """A static version; else uv.lock's root entry's; else the literal the dynamic attribute names
    (`[tool.setuptools.dynamic] version = {attr = "skyrl.__version__"}`), read without importing."""
    static = (project.get("project") or {}).get("version")
    if isinstance(static, str):
        return static
    if isinstance(root_pkg.get("version"), str):
        return root_pkg["version"]
    attr = (((project.get("tool") or {}).get("setuptools") or {}).get("dynamic") or {}).get("version") or {}
    spec = attr.get("attr") if isinstance(attr, dict) else None
    if isinstance(spec, str) and "." in spec:
        module, _, name = spec.rpartition(".")
        base = root / module.replace(".", "/")
        for path in (base / "__init__.py", base.with_suffix(".py")):
            if path.is_file():
                found = _literal(path, name)
                if found:
                    return found
    raise _fail(root, "its version is dynamic and neither uv.lock nor a literal attribute gives it",
                "set a static [project] version, or `uv lock` with a uv that records it")


def _literal(path: Path, name: str) -> str | None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError):
        return None
    for node in tree.body:
        targets: list[ast.expr]
        value: ast.expr | None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        if any(getattr(t, "id", None) == name for t in targets) and isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    return None


def _conflicts(raw) -> tuple[frozenset[str], ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(frozenset(e["extra"] for e in group if isinstance(e, dict) and isinstance(e.get("extra"), str))
                 for group in raw if isinstance(group, list))


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


def require_extra(source: SkyrlSource, extra: str | None) -> str:
    """The extra, which the source's lock must provide (a profile with no extra fails as one it lacks)."""
    if extra is None or extra not in source.extras or extra not in source.extra_requirements:
        have = ", ".join(source.extras) or "none"
        raise _fail(source.root, f"its lock has no extra {extra!r} (it has: {have})",
                    f"add the extra to pyproject.toml and re-lock: `uv lock --project {sh(source.root)}`")
    return extra


def export(uv: Uv, source: SkyrlSource, extra: str, output: Path) -> Path:
    """One extra of SkyRL's lock as a PEP 751 lock, offline, exactly as locked."""
    require_extra(source, extra)
    output.parent.mkdir(parents=True, exist_ok=True)
    uv.export(source.root, extra, output)
    return output
