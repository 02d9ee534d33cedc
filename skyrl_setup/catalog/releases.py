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

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from skyrl_setup._toml import TableReader, read_toml
from skyrl_setup.catalog import cuda_policy
from skyrl_setup.catalog.data import data_dir
from skyrl_setup.errors import PreconditionError, UsageError

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
    chosen: str = ""  # why this release stands where another was asked for (`latest` on an older driver)

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

    def variants_for(self, backend: str) -> tuple[str, ...]:
        return tuple(((self.backends.get(backend) or {}).get("cuda") or {}).get("variants") or ())

    def to_json(self) -> dict:
        return {"id": self.id, "distribution": self.distribution, "version": self.version, "date": self.date,
                "layout": self.layout, "source": self.source, "backends": sorted(self.backends),
                "extras": {b: self.extra_for(b) for b in sorted(self.backends)},
                "defects": [{"where": d.where, "what": d.what, "backends": list(d.backends), "fixed_in": d.fixed_in}
                            for d in self.defects], "chosen": self.chosen or None}


def releases_dir() -> Path:
    return data_dir() / "releases"


def catalog() -> tuple[Release, ...]:
    """Every release, oldest first."""
    return tuple(sorted((load(p) for p in releases_dir().glob("*.toml")), key=lambda r: r.key))


def load(path: Path) -> Release:
    return parse(read_toml(path, ReleaseError), path)


def _reader(raw: dict, path: Path) -> TableReader:
    return TableReader(raw, path, ReleaseError, "fix the release file, or restore it from skyrl-setup's release")


def parse(raw: dict, path: Path) -> Release:
    r = _reader(raw, path)
    dist = canonicalize_name(r.get("distribution", str))
    version = r.get("version", str)
    try:
        Version(version)
    except InvalidVersion:
        raise r.fail("version", f"{version!r} is not a version") from None
    if path.stem != f"{dist}-{version}":
        raise r.fail("version", f"the file should be named {dist}-{version}.toml")
    layout, source = r.get("layout", str), r.get("source", str)
    if layout not in LAYOUTS:
        raise r.fail("layout", f"{layout!r} is not one of {', '.join(LAYOUTS)}")
    if source not in SOURCES:
        raise r.fail("source", f"{source!r} is not one of {', '.join(SOURCES)}")
    lock_sha = raw.get("lock_sha256")
    if source == "lock" and not (isinstance(lock_sha, str) and len(lock_sha) == 64):
        raise r.fail("lock_sha256", "a release whose source is its lock names the lock's sha256")
    backends = raw.get("backends", {})
    if not isinstance(backends, dict) or not all(isinstance(t, dict) for t in backends.values()):
        raise r.fail("backends", "expected a table of tables")
    for name, table in backends.items():
        if not isinstance((table.get("source") or {}).get("skyrl_extra"), str):
            raise r.fail(f"backends.{name}.source.skyrl_extra", "missing: the extra this backend maps to")
    removed = raw.get("removed", {})
    if not isinstance(removed, dict) or not all(isinstance(v, str) for v in removed.values()):
        raise r.fail("removed", "expected backend = \"why\"")
    defects = []
    for i, d in enumerate(raw.get("defects", [])):
        if not isinstance(d, dict):
            raise r.fail(f"defects[{i}]", "expected a table")
        dr = _reader(d, path)
        defects.append(Defect(dr.get("where", str), dr.get("what", str), dr.str_list("backends"), dr.get("fixed_in", str, "")))
    return Release(dist, version, r.get("date", str), bool(raw.get("matrix_generation", False)), layout,
                   r.str_list("packages"), source, lock_sha if isinstance(lock_sha, str) else None,
                   dict(backends), dict(removed), tuple(defects), r.str_list("notes"), path)


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


def needs_checkout(release: Release, backend: str) -> str | None:
    """Why the release's backend installs only from a checkout of one's own (`without_checkout`), if it does."""
    return ((release.backends.get(backend) or {}).get("source") or {}).get("without_checkout")


def installable(release: Release, backend: str) -> bool:
    return not needs_checkout(release, backend)


def newest_for(backend: str, releases: tuple[Release, ...] | None = None) -> Release | None:
    """The newest release `--skyrl latest` installs: one whose backend needs no checkout of one's own."""
    found = [r for r in having(backend, releases) if installable(r, backend)]
    return found[-1] if found else None


def driver_gap(release: Release, backend: str, driver: str | None) -> str | None:
    """Why this NVIDIA driver runs none of the release's CUDA variants for the backend; None where it runs one
    (or no driver was found: a CPU host building for GPU nodes, which are not judged from here)."""
    variants = release.variants_for(backend)
    if driver is None or not variants or any(cuda_policy.runs(v, driver) for v in variants):
        return None
    need = min(variants, key=lambda v: Version(cuda_policy.driver_floor(v) or "0"))
    return (f"{release.label} needs CUDA {cuda_policy.CudaVersion.from_variant(need)}, which needs NVIDIA driver "
            f"{cuda_policy.driver_floor(need)} or newer; this host's driver is {driver}")


def newest_on_driver(backend: str, driver: str | None, releases: tuple[Release, ...] | None = None, *,
                     sound: bool = False) -> Release | None:
    """The newest release with the backend that this driver runs (`sound`: and no known defect in it)."""
    found = [r for r in having(backend, releases) if installable(r, backend)
             and driver_gap(r, backend, driver) is None and not (sound and r.defects_for(backend))]
    return found[-1] if found else None


def _offer(backend: str, driver: str | None, releases: tuple[Release, ...]) -> str:
    """The hint for a release this driver cannot run: the newest that it runs, and the newest sound one if that differs."""
    newest, sound = newest_on_driver(backend, driver, releases), newest_on_driver(backend, driver, releases, sound=True)
    upgrade = "upgrade the NVIDIA driver"
    if newest is None:
        return f"{upgrade}: no release of the catalog with {backend} runs on driver {driver}"
    offer = f"the newest release driver {driver} runs is {newest.label} ({skyrl_flag(newest, releases)})"
    if sound is not None and sound is not newest:
        offer += f", with a known defect; without one: {sound.label} ({skyrl_flag(sound, releases)})"
    return f"{offer}; or {upgrade}"


def skyrl_flag(release: Release, releases: tuple[Release, ...]) -> str:
    """The shortest --skyrl that names this release alone."""
    alone = sum(_same_version(release.version, r.version) for r in releases) == 1
    return f"--skyrl {release.version if alone else f'{release.distribution}=={release.version}'}"


def resolve(spec: str | None, backend: str, *, driver: str | None = None) -> Release:
    """The release `--skyrl SPEC` names for a backend (None: the default; 'latest': the newest with it). With
    the host's `driver`, for what is built to run here: 'latest' is the newest release that driver runs,
    saying why; a release named that it cannot run is a precondition, and the hint names the newest it runs."""
    chosen = _resolve(spec, backend)
    gap = driver_gap(chosen, backend, driver) if spec not in (None, "", "default") else None
    if gap is None:
        return chosen
    releases = catalog()
    older = newest_on_driver(backend, driver, releases) if spec == "latest" else None
    if older is not None:
        return dataclasses.replace(older, chosen=f"the newest SkyRL release with {backend} that this host runs: {gap}")
    raise PreconditionError(gap, _offer(backend, driver, releases))


def for_host(spec: str | None, backend: str) -> str | Release | None:
    """--skyrl as install and upgrade read it: the release for this host's NVIDIA driver (see resolve); the
    default, a backend no release has, and a profile file are left to the profile loader."""
    name = backend if having(backend) else backend_for_extra(backend)
    if spec in (None, "", "default") or not name:
        return spec
    from skyrl_setup.detect.gpu import detect_driver

    return resolve(spec, name, driver=detect_driver().version)


def _resolve(spec: str | None, backend: str) -> Release:
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


def backend_for_extra(name: str) -> str | None:
    """SkyRL's own extra name (fsdp, mcore) as the backend it maps to, where every release agrees."""
    wanted = canonicalize_name(name)
    found = {b for r in catalog() for b in r.backends if canonicalize_name(r.extra_for(b) or "") == wanted}
    return found.pop() if len(found) == 1 else None
