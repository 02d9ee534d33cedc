"""PEP 751 lockfiles (pylock.toml, as written by `uv pip compile --format pylock.toml`).

Reading a lock is pure: which packages apply to the target (markers evaluated for
Python 3.12 on the target platform), which wheel each one takes, how much that
downloads, and which packages have no wheel and would be built from source.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import astuple, dataclass
from pathlib import Path

from packaging import tags
from packaging.pylock import (
    Package,
    PackageArchive,
    PackageDirectory,
    PackageSdist,
    PackageWheel,
    Pylock,
    PylockValidationError,
)
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import parse_wheel_filename

from skyrl_setup._toml import toml_reader
from skyrl_setup.errors import UsageError
from skyrl_setup.locks import parsed

NAME_RE = re.compile(r"^pylock(\.[^.]+)?\.toml$")


class LockError(UsageError):
    pass


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    url: str | None  # the artifact chosen for the target, if any
    size: int  # bytes to download, 0 when unknown
    source: str  # wheel / sdist / directory / vcs / archive
    sha256: str | None = None
    index: str | None = None  # the index the lock took it from, where it says

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "source": self.source, "size": self.size}


@dataclass(frozen=True)
class Lock:
    path: Path
    sha256: str
    packages: tuple[LockedPackage, ...]
    requires_python: str | None
    tool: dict  # the [tool.skyrl-setup] table, if the lock carries one

    @property
    def download_bytes(self) -> int:
        return sum(p.size for p in self.packages)

    @property
    def from_source(self) -> tuple[LockedPackage, ...]:
        return tuple(p for p in self.packages if p.source == "sdist")

    @property
    def unhashed(self) -> tuple[LockedPackage, ...]:
        """Git commits and local folders: installed after the hash-pinned files, without --require-hashes."""
        return tuple(p for p in self.packages if p.source in ("vcs", "directory"))

    def versions(self) -> dict[str, str]:
        return {p.name: p.version for p in self.packages}

    @property
    def skyrl_identity(self) -> dict[str, str]:
        """Which SkyRL lock (source, version, sha256, extra) and route this lock was made from, if any."""
        return {k: v for k, v in self.tool.items() if k.startswith("skyrl-") or k == "route"}


def target_environment(python_full: str, platform: str) -> dict[str, str]:
    system, _, machine = platform.partition("_")
    return {
        "implementation_name": "cpython",
        "implementation_version": python_full,
        "os_name": "posix",
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": system.capitalize(),
        "platform_version": "",
        "python_full_version": python_full,
        "python_version": ".".join(python_full.split(".")[:2]),
        "sys_platform": system,
        "extra": "",
    }


def supported_tags(python_full: str, platform: str, glibc: str | None = None) -> list[tags.Tag]:
    """The wheel tags a CPython of that version accepts on the platform (manylinux capped by glibc)."""
    major, minor = (int(x) for x in python_full.split(".")[:2])
    _, _, machine = platform.partition("_")
    top = int(glibc.split(".")[1]) if glibc and glibc.startswith("2.") and glibc.split(".")[1].isdigit() else 40
    plats = [f"manylinux_2_{v}_{machine}" for v in range(top, 16, -1)]
    plats += [f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}", platform]
    return list(tags.cpython_tags((major, minor), platforms=plats)) + list(tags.compatible_tags((major, minor), platforms=plats))


def _where(entry: PackageWheel | PackageSdist | PackageArchive | PackageDirectory, lock_path: Path) -> str | None:
    """An entry's URL; a `path` (absolute, or relative to the lock's folder) as a file:// URL."""
    url = getattr(entry, "url", None)  # a directory has only a path
    if url:
        return url
    if entry.path:
        p = Path(entry.path)
        return (p if p.is_absolute() else (lock_path.parent / p).resolve()).as_uri()
    return None


def _chosen(pkg: Package, raw_version: str, lock_path: Path, pick_wheel) -> LockedPackage:
    """The package's file for the target: its best wheel, else its sdist, else its one direct source."""
    name, version = pkg.name, raw_version  # the version as written: what installed metadata and the record compare with
    wheel = next(pick_wheel((w, parse_wheel_filename(w.filename)[-1]) for w in pkg.wheels or ()), None)
    if wheel:
        return LockedPackage(name, version, _where(wheel, lock_path), wheel.size or 0, "wheel", wheel.hashes.get("sha256"), pkg.index)
    if pkg.sdist:
        return LockedPackage(name, version, _where(pkg.sdist, lock_path), pkg.sdist.size or 0, "sdist", pkg.sdist.hashes.get("sha256"),
                             pkg.index)
    if pkg.archive:  # a direct URL or file (PEP 751 "archive"): a wheel unless its name says otherwise
        where = _where(pkg.archive, lock_path)
        kind = "wheel" if (where or "").split("#")[0].endswith(".whl") else "sdist"
        return LockedPackage(name, version, where, pkg.archive.size or 0, kind, pkg.archive.hashes.get("sha256"))
    if pkg.vcs and pkg.vcs.url:  # installed by its commit id: pinned, though not by a file hash
        return LockedPackage(name, version, f"{pkg.vcs.type}+{pkg.vcs.url}@{pkg.vcs.commit_id}", 0, "vcs")
    if pkg.directory:
        return LockedPackage(name, version, _where(pkg.directory, lock_path), 0, "directory")
    # wheels for other platforms only, or a git source given by a local path
    return LockedPackage(name, version, None, 0, "vcs" if pkg.vcs else "unknown")


def load(path: Path, python_full: str = "3.12.0", platform: str = "linux_x86_64", glibc: str | None = None) -> Lock:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LockError(f"lockfile {path}: cannot read ({exc.strerror or exc})", "check the path given with --lock") from None
    digest = hashlib.sha256(data).hexdigest()
    entry = parsed.entry_path(digest, (python_full, platform, glibc))
    kept = parsed.read(entry)
    if kept is not None:
        rows, requires, tool = kept
        return Lock(path, digest, tuple(LockedPackage(*r) for r in rows), requires, tool)
    try:
        doc = toml_reader.loads(data.decode("utf-8"))
    except (toml_reader.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LockError(f"lockfile {path}: not valid TOML ({exc})", "regenerate it with `skyrl-setup lock`") from None
    if not isinstance(doc.get("lock-version"), str) or not isinstance(doc.get("packages"), list):
        raise LockError(f"lockfile {path}: not a PEP 751 lock (no lock-version or packages)", "regenerate it with `skyrl-setup lock`")
    try:
        pylock = Pylock.from_dict(doc)
    except PylockValidationError as exc:
        raise LockError(f"lockfile {path}: not a valid PEP 751 lock: {exc}", "regenerate it with `skyrl-setup lock`") from None
    env = target_environment(python_full, platform)
    pick_wheel = tags.create_compatible_tags_selector(supported_tags(python_full, platform, glibc))
    out = tuple(_chosen(pkg, str(raw.get("version", "")), path, pick_wheel) for pkg, raw in zip(pylock.packages, doc["packages"])
                if not pkg.marker or pkg.marker.evaluate(env))
    tool = (doc.get("tool") or {}).get("skyrl-setup") or {}
    sources = (e for pkg in pylock.packages for e in (*(pkg.wheels or ()), pkg.sdist, pkg.archive, pkg.directory, pkg.vcs))
    if not any(e is not None and e.path for e in sources):  # a `path` is read relative to where the lock is found
        parsed.write(entry, [astuple(p) for p in out], doc.get("requires-python"), tool)
    return Lock(path, digest, out, doc.get("requires-python"), tool)


def python_refused(lock: Lock, python_full: str) -> str | None:
    """The lock's requires-python where `python_full` does not meet it (PEP 751: the Pythons the lock was made for)."""
    spec = lock.requires_python
    if spec is None:
        return None
    try:
        ok = SpecifierSet(str(spec)).contains(python_full, prereleases=True)
    except InvalidSpecifier:
        raise LockError(f"lockfile {lock.path}: requires-python {spec!r} is not a version specifier",
                        "regenerate it with `skyrl-setup lock`") from None
    return None if ok else str(spec)


def install_manifest(lock: Lock, *, skip: frozenset = frozenset(), rewrite=lambda url: url,
                     by_name: frozenset = frozenset()) -> str:
    """The lock's chosen files as hash-pinned requirements, for `uv pip sync --require-hashes`.

    When the file server sends no cache validators (no Cache-Control, ETag or Last-Modified; some
    proxies and mirrors strip them), uv treats every cached wheel of a `uv pip sync pylock.toml`
    as stale, fetches it again and extracts it into a new cache entry (measured: 32 s and 11 GB
    per warm re-install of the sglang stack). Hash-pinned direct-URL requirements are found in
    the cache by their hash instead. The files, URLs and hashes are the lock's, unchanged.
    Packages in `by_name` are written `name==version --hash=...` instead, for uv to find through
    the configured index (a mirror with its own layout); the hash is still the lock's.
    """
    return "".join(requirement_line(p, lock, rewrite, by_name) for p in lock.packages
                   if p.name not in skip and p not in lock.unhashed)


def requirement_line(p: LockedPackage, lock: Lock, rewrite=lambda url: url, by_name: frozenset = frozenset()) -> str:
    if not p.url or not p.sha256:
        raise LockError(f"lockfile {lock.path}: {p.name} has no {'URL' if not p.url else 'sha256'} for this platform",
                        "regenerate it with `skyrl-setup lock` for this platform")
    if p.name in by_name:
        return f"{p.name}=={p.version} --hash=sha256:{p.sha256}\n"
    return f"{p.name} @ {rewrite(p.url)} --hash=sha256:{p.sha256}\n"


def load_for_host(path: Path, python_full: str, platform: str) -> Lock:
    """`load`, with wheels chosen for this host's glibc when the platform is this host's."""
    from skyrl_setup.detect.system import glibc_version, platform_tag

    return load(path, python_full, platform, glibc_version() if platform == platform_tag() else None)


def append_tool_table(path: Path, meta: dict[str, str | list[str]]) -> None:
    """Record which profile a lock was made from, in PEP 751's [tool] table, after what uv wrote (left as it is)."""
    import tomlkit  # only a lock being made needs it: every plan reads one

    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n" + tomlkit.dumps({"tool": {"skyrl-setup": meta}}))


def profile_fingerprint(requirements: list[str], excludes: tuple[str, ...], exclude_newer: str | None, index: str) -> str:
    text = "\n".join(sorted(requirements)) + f"\n--excludes {sorted(excludes)}\n--exclude-newer {exclude_newer}\n--index {index}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]
