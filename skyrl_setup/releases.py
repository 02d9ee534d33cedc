"""SkyRL's releases as data: one file a release, releases/<distribution>-<version>.toml.

A release says what it is (distribution, version, date, layout, its own import packages),
where its tested versions come from (SkyRL's uv.lock, by sha256, or its published
requirements where no lock is public), which backends it has and the extra each maps to,
the backend's SkyRL-side settings (routes, CUDA variants, verification, runtime variables,
artifacts), the backends it no longer has and why, and its known defects. Adding a release
is adding a file and its committed lockfiles (lockfiles/<distribution>-<version>/); no code
names a release.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from skyrl_setup._toml import toml_reader
from skyrl_setup.errors import UsageError
from skyrl_setup.resources import data_dir

LAYOUTS = ("skyrl-train", "root")
SOURCES = ("lock", "pypi")


class ReleaseError(UsageError):
    pass


@dataclass(frozen=True)
class Defect:
    """A defect measured in a published release: the default choice skips a release that has one."""

    where: str
    what: str
    backends: tuple[str, ...]
    fixed_in: str = ""


@dataclass(frozen=True)
class Release:
    distribution: str  # skyrl-train, skyrl
    version: str
    date: str
    matrix_generation: bool  # the generation the user's version matrix describes (skyrl-train 0.3.x)
    layout: str  # "skyrl-train": a skyrl-train/ folder in the repository; "root": the repository is the project
    packages: tuple[str, ...]  # SkyRL's own import packages: the static check follows them
    source: str  # "lock": SkyRL's uv.lock; "pypi": its published requirements
    lock_sha256: str | None
    backends: dict[str, dict]  # backend -> its table, merged into the backend's profile
    removed: dict[str, str]  # backend -> why this release does not have it
    defects: tuple[Defect, ...]
    notes: tuple[str, ...]
    path: Path

    @property
    def id(self) -> str:
        return f"{self.distribution}-{self.version}"

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version}"

    @property
    def key(self) -> tuple:
        return (self.date, Version(self.version))

    def extra_for(self, backend: str) -> str | None:
        return ((self.backends.get(backend) or {}).get("source") or {}).get("skyrl_extra")

    def defects_for(self, backend: str) -> tuple[Defect, ...]:
        return tuple(d for d in self.defects if backend in d.backends)

    def to_json(self) -> dict:
        return {"id": self.id, "distribution": self.distribution, "version": self.version, "date": self.date,
                "layout": self.layout, "source": self.source, "backends": sorted(self.backends),
                "extras": {b: self.extra_for(b) for b in sorted(self.backends)},
                "defects": [{"where": d.where, "what": d.what, "backends": list(d.backends), "fixed_in": d.fixed_in}
                            for d in self.defects]}


def releases_dir() -> Path:
    return data_dir() / "releases"


def catalog() -> tuple[Release, ...]:
    """Every release, oldest first."""
    return tuple(sorted((load(p) for p in releases_dir().glob("*.toml")), key=lambda r: r.key))


def load(path: Path) -> Release:
    try:
        raw = toml_reader.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReleaseError(f"{path}: cannot read ({exc.strerror})", "check the file's path and permissions") from exc
    except (toml_reader.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ReleaseError(f"{path}: not valid TOML ({exc})", "fix the syntax at the position named") from exc
    return parse(raw, path)


def _fail(path: Path, key: str, why: str) -> ReleaseError:
    return ReleaseError(f"{path}: key {key!r}: {why}", "fix the release file, or restore it from skyrl-setup's release")


def _str(raw: dict, path: Path, key: str, default=None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise _fail(path, key, "missing" if value is None else f"expected a string, found {type(value).__name__}")
    return value


def _strs(raw: dict, path: Path, key: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, key, "expected a list of strings")
    return tuple(value)


def parse(raw: dict, path: Path) -> Release:
    dist = canonicalize_name(_str(raw, path, "distribution"))
    version = _str(raw, path, "version")
    try:
        Version(version)
    except InvalidVersion:
        raise _fail(path, "version", f"{version!r} is not a version") from None
    if path.stem != f"{dist}-{version}":
        raise _fail(path, "version", f"the file should be named {dist}-{version}.toml")
    layout, source = _str(raw, path, "layout"), _str(raw, path, "source")
    if layout not in LAYOUTS:
        raise _fail(path, "layout", f"{layout!r} is not one of {', '.join(LAYOUTS)}")
    if source not in SOURCES:
        raise _fail(path, "source", f"{source!r} is not one of {', '.join(SOURCES)}")
    lock_sha = raw.get("lock_sha256")
    if source == "lock" and not (isinstance(lock_sha, str) and len(lock_sha) == 64):
        raise _fail(path, "lock_sha256", "a release whose source is its lock names the lock's sha256")
    backends = raw.get("backends", {})
    if not isinstance(backends, dict) or not all(isinstance(t, dict) for t in backends.values()):
        raise _fail(path, "backends", "expected a table of tables")
    for name, table in backends.items():
        if not isinstance((table.get("source") or {}).get("skyrl_extra"), str):
            raise _fail(path, f"backends.{name}.source.skyrl_extra", "missing: the extra this backend maps to")
    removed = raw.get("removed", {})
    if not isinstance(removed, dict) or not all(isinstance(v, str) for v in removed.values()):
        raise _fail(path, "removed", "expected backend = \"why\"")
    defects = []
    for i, d in enumerate(raw.get("defects", [])):
        if not isinstance(d, dict):
            raise _fail(path, f"defects[{i}]", "expected a table")
        defects.append(Defect(_str(d, path, "where"), _str(d, path, "what"), _strs(d, path, "backends"),
                              _str(d, path, "fixed_in", "")))
    return Release(dist, version, _str(raw, path, "date"), bool(raw.get("matrix_generation", False)), layout,
                   _strs(raw, path, "packages"), source, lock_sha if isinstance(lock_sha, str) else None,
                   dict(backends), dict(removed), tuple(defects), _strs(raw, path, "notes"), path)


def matches(release: Release, spec: str) -> bool:
    """`0.3.0`, `skyrl-train==0.3.0`, `skyrl-train-0.3.0` or `skyrl-train 0.3.0`."""
    for sep in ("==", " ", "@"):
        if sep in spec:
            name, _, version = spec.partition(sep)
            return canonicalize_name(name.strip()) == release.distribution and _same_version(version.strip(), release.version)
    if spec.startswith(release.distribution + "-"):
        return _same_version(spec[len(release.distribution) + 1:], release.version)
    return _same_version(spec, release.version)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def having(backend: str, releases: tuple[Release, ...] | None = None) -> tuple[Release, ...]:
    return tuple(r for r in (catalog() if releases is None else releases) if backend in r.backends)


def default_for(backend: str, releases: tuple[Release, ...] | None = None) -> Release | None:
    """The newest release of the version matrix's generation that has the backend and no known defect in it;
    a newer generation is asked for by name (--skyrl), never chosen silently."""
    sound = [r for r in having(backend, releases) if r.matrix_generation and not r.defects_for(backend)]
    return sound[-1] if sound else None


def newest_for(backend: str, releases: tuple[Release, ...] | None = None) -> Release | None:
    found = having(backend, releases)
    return found[-1] if found else None


def resolve(spec: str | None, backend: str) -> Release:
    """The release `--skyrl SPEC` names for a backend (None: the default; 'latest': the newest with it)."""
    releases = catalog()
    if spec in (None, "", "default"):
        chosen = default_for(backend, releases)
        if chosen is None:
            raise ReleaseError(f"no SkyRL release in the catalog has the {backend} backend without a known defect",
                               f"name one with --skyrl ({', '.join(r.id for r in having(backend, releases)) or 'none has it'})")
        return chosen
    if spec == "latest":
        chosen = newest_for(backend, releases)
        if chosen is None:
            raise ReleaseError(f"no SkyRL release in the catalog has the {backend} backend", "see `skyrl-setup profiles`")
        return chosen
    found = [r for r in releases if matches(r, spec)]
    if not found:
        raise ReleaseError(f"--skyrl {spec}: not a SkyRL release skyrl-setup knows",
                           f"known: {', '.join(r.id for r in releases)}, or latest")
    if len(found) > 1:
        raise ReleaseError(f"--skyrl {spec}: ambiguous ({', '.join(r.id for r in found)})",
                           f"name the distribution too, e.g. --skyrl {found[-1].distribution}=={found[-1].version}")
    release = found[0]
    if backend not in release.backends:
        others = having(backend, releases)
        why = release.removed.get(backend, f"{release.label} has no {backend} backend")
        last = f"; the last release with it is {others[-1].label}" if others else ""
        raise ReleaseError(f"{release.label} has no {backend} backend: {why}{last}",
                           f"releases with {backend}: {', '.join(r.label for r in others) or 'none'}; "
                           f"{release.label} has: {', '.join(sorted(release.backends))}")
    return release


def of_record(rec: dict | None) -> str | None:
    """The release an environment was built from; a record written before releases were data names
    only its SkyRL lock, whose version is a skyrl-train release."""
    rec = rec or {}
    if rec.get("skyrl_release"):
        return rec["skyrl_release"]
    lock = rec.get("skyrl_lock") or {}
    return f"skyrl-train=={lock['skyrl-version']}" if lock.get("skyrl-version") else None


def backend_for_extra(name: str) -> str | None:
    """SkyRL's own extra name (fsdp, mcore) as the backend it maps to, where every release agrees."""
    wanted = canonicalize_name(name)
    found = {b for r in catalog() for b in r.backends if canonicalize_name(r.extra_for(b) or "") == wanted}
    return found.pop() if len(found) == 1 else None
