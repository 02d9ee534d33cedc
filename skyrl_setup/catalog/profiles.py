"""Backend profiles: data in profiles/<backend>.toml, validated into frozen dataclasses.

A profile names the pins of one backend (torch, the inference engine and its kernels,
SkyRL's own packages), the CUDA variants it supports and where each variant's torch
builds come from, what to import to verify an environment, and the runtime settings
the backend needs. Validation errors name the file, the key and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from skyrl_setup._toml import TableReader, read_toml
from skyrl_setup.catalog import releases
from skyrl_setup.catalog.data import lockfiles_dir, profiles_dir
from skyrl_setup.catalog.lockfiles import Committed, route_locks
from skyrl_setup.catalog.releases import Release
from skyrl_setup.errors import UsageError

VARIANT_RE = re.compile(r"^(cpu|cu\d{3})$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ProfileError(UsageError):
    pass


@dataclass(frozen=True)
class Artifact:
    """A component served outside the package indexes (a GitHub release asset, say)."""

    name: str
    version: str
    url: str  # a template: {version} {cuda_major} {torch_mm} {abi} {py}
    required: bool
    reason: str = ""


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    summary: str
    python: str  # "3.12": the minor version every environment must run
    torch: str
    variants: tuple[str, ...]  # supported CUDA variants, preferred first
    torch_index: dict[str, str]  # variant -> "pypi" or an index URL
    packages: dict[str, str]  # canonical name -> specifier (may be "")
    main_packages: tuple[str, ...]  # what `profiles` shows first
    skyrl: dict[str, str]
    excludes: tuple[str, ...]
    exclude_newer: str | None
    modules: tuple[str, ...]
    gpu_modules: tuple[str, ...]  # import only where a GPU driver is present
    env: dict[str, str]
    min_compute_capability: float
    attention: dict[str, str]  # "9.0" / "8" / "default" -> advice
    artifacts: tuple[Artifact, ...] = ()
    build_from_source: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    # SkyRL's lock as the source of the versions: the extra, the routes in order of preference,
    # PyPI releases for what SkyRL takes from a folder or git, what PyPI lacks (name -> why).
    skyrl_extra: str | None = None
    routes: tuple[str, ...] = ()
    pypi_releases: dict[str, str] = field(default_factory=dict)
    pypi_drop: dict[str, str] = field(default_factory=dict)
    matrix: dict[str, str] = field(default_factory=dict)  # the version matrix's pins, shown for comparison
    differences: dict[str, str] = field(default_factory=dict)  # package -> why SkyRL's choice differs
    tested: dict[str, str] = field(default_factory=dict)  # SkyRL's lock: package -> version
    # What "ready for SkyRL training" checks (verify/verdict.py): SkyRL's code paths for this backend,
    # the SkyRL modules imported for real on any host, those imported only with a GPU, and the
    # methods SkyRL calls on the engine ("module:Class" -> names).
    skyrl_entry: tuple[str, ...] = ()
    skyrl_imports: tuple[str, ...] = ()
    engine_imports: tuple[str, ...] = ()
    interface: dict[str, list[str]] = field(default_factory=dict)
    release: Release | None = None  # the SkyRL release whose lock and code this profile stands on
    requirements_published: tuple[str, ...] = ()  # a release without a public lock: what its extra asks for

    @property
    def follow(self) -> tuple[str, ...]:
        """SkyRL's own import packages, which the static check follows."""
        return self.release.packages if self.release else ("skyrl_train", "skyrl_gym")

    @property
    def lock_dir(self) -> Path:
        return lockfiles_dir() / self.release.id if self.release else lockfiles_dir()

    def requirements(self, *, with_skyrl: bool = True) -> list[str]:
        reqs = [f"{n}{s}" for n, s in self.packages.items()]
        if with_skyrl:
            reqs += [f"{n}{s}" for n, s in self.skyrl.items()]
        return reqs

    def index_for(self, variant: str, mirrors) -> str:
        """The torch family's index for a variant, through the mirrors in force (skyrl_setup.detect.mirrors.Mirrors)."""
        url = self.torch_index.get(variant, "pypi")
        return url if url == "pypi" else mirrors.rewrite(url)

    def attention_for(self, capability: tuple[int, int]) -> str:
        major, minor = capability
        for key in (f"{major}.{minor}", f"{major}"):
            if key in self.attention:
                return self.attention[key]
        return self.attention.get("default", "")

    @property
    def from_skyrl(self) -> bool:
        return self.skyrl_extra is not None

    def summary_json(self) -> dict:
        return {
            "name": self.name,
            "python": self.python,
            "torch": self.torch,
            "cuda": list(self.variants),
            "packages": {n: self.packages[n] for n in self.packages},
            "skyrl": dict(self.skyrl),
            "summary": self.summary,
            "source": f"SkyRL's lock ({self.skyrl_extra} extra)" if self.from_skyrl else "the version matrix",
            "release": self.release.id if self.release else None,
            "routes": list(self.routes),
            "matrix": dict(self.matrix),
            "skyrl_tested": dict(self.tested),
            "differences": dict(self.differences),
        }


def available() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.toml"))


def load(name_or_path: str, release: str | Release | None = None) -> Profile:
    """A backend's profile; one that stands on SkyRL's code takes its SkyRL side from `release`
    (a Release, or what --skyrl says: None for the default, 'latest', a version)."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        alias = None if (profiles_dir() / f"{name_or_path}.toml").is_file() else releases.backend_for_extra(name_or_path)
        path = profiles_dir() / f"{alias or name_or_path}.toml"
        if not path.is_file():
            names = ", ".join(available()) or "none found"
            raise UsageError(
                f"unknown backend {name_or_path!r}",
                f"choose one of: {names} (see `skyrl-setup profiles`)",
            )
    raw = read_toml(path, ProfileError)
    if "packages" in raw:  # the version matrix's own set: no SkyRL release behind it
        if releases.having(path.stem):
            raise ProfileError(f"{path}: key 'packages': a profile built from SkyRL's lock takes its pins from the lock, "
                               "not from [packages]", "fix the profile, or restore it from the release")
        if release not in (None, "", "default"):
            raise UsageError(f"the {raw.get('name')} backend is the version matrix's set, not a SkyRL release's",
                             "drop --skyrl, or pick a backend built from SkyRL's lock")
        return parse(raw, path)
    rel = release if isinstance(release, Release) else releases.resolve(release, path.stem)
    return parse(_merge(raw, rel.backends[path.stem]), path, rel)


def _merge(base: dict, over: dict) -> dict:
    """The release's table over the backend's: tables merge, anything else is the release's."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_all(release: str | None = None) -> list[Profile]:
    return [load(n, release) for n in available() if release is None or _has(n, release)]


def _has(name: str, release: str) -> bool:
    try:
        load(name, release)
    except UsageError:
        return False
    return True


def _reader(raw: dict, path: Path) -> TableReader:
    return TableReader(raw, path, ProfileError, "fix the profile, or restore it from the release")


def _requirements(r: TableReader, key: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, spec in r.str_table(key).items():
        try:
            req = Requirement(f"{name}{spec}")
        except InvalidRequirement as exc:
            raise r.fail(f"{key}.{name}", f"not a valid requirement ({exc})") from None
        canon = canonicalize_name(req.name)
        if canon in out:
            raise r.fail(f"{key}.{name}", "listed twice")
        out[canon] = spec
    return out


def parse(raw: dict, path: Path, release: Release | None = None) -> Profile:
    r = _reader(raw, path)
    name = r.get("name", str)
    if name != path.stem:
        raise r.fail("name", f"{name!r} does not match the file name {path.stem!r}")
    python = r.get("python", str)
    if not re.fullmatch(r"3\.\d+", python):
        raise r.fail("python", f"{python!r} is not a minor version like '3.12'")
    variants = r.str_list("cuda.variants")
    if not variants:
        raise r.fail("cuda.variants", "lists no CUDA variant")
    for v in variants:
        if not VARIANT_RE.match(v):
            raise r.fail("cuda.variants", f"{v!r} is not a variant like 'cu128'")
    torch_index = r.str_table("cuda.torch_index")
    for v, url in torch_index.items():
        if url != "pypi" and not url.startswith(("http://", "https://", "file://")):
            raise r.fail(f"cuda.torch_index.{v}", f"{url!r} is neither 'pypi' nor a URL")
    extra = r.get("source.skyrl_extra", str, None)
    routes = r.str_list("source.routes", default=["skyrl", "pypi"] if extra else [])
    for route in routes:
        if route not in ("skyrl", "pypi"):
            raise r.fail("source.routes", f"{route!r} is not a route (skyrl, pypi)")
    tested: dict[str, str] = {}
    cutoff = None
    if extra:  # the pins are SkyRL's, read from the committed lock; the profile never repeats them
        if "packages" in raw or "torch" in raw:
            raise r.fail("packages", "a profile built from SkyRL's lock takes its pins from the lock, not from [packages]")
        own = {canonicalize_name(release.distribution), "skyrl-gym"} if release else {"skyrl-train", "skyrl-gym"}
        pins, tested, cutoff = _lock_pins(lockfiles_dir() / release.id if release else lockfiles_dir(), path.stem, routes)
        packages = {n: s for n, s in pins.items() if n not in own}
        skyrl_pins = {n: s for n, s in pins.items() if n in own}
        # "0" until the release's lockfiles are made (`skyrl-setup lock` makes them from this profile)
        torch = packages.get("torch", "==0").lstrip("=")
    else:
        packages = _requirements(r, "packages")
        if "torch" not in packages:
            raise r.fail("packages", "does not pin torch")
        skyrl_pins = _requirements(r, "skyrl")
        torch = r.get("torch", str)
    try:
        Version(torch)
    except InvalidVersion:
        raise r.fail("torch", f"{torch!r} is not a version") from None
    main = r.str_list("main_packages", default=list(packages)[:4])
    for m in main if not extra else ():  # SkyRL's lock decides what a SkyRL-sourced profile holds
        if canonicalize_name(m) not in packages:
            raise r.fail("main_packages", f"{m!r} is not in [packages]")
    env = r.str_table("env")
    for k in env:
        if not ENV_NAME_RE.match(k):
            raise r.fail(f"env.{k}", "not a valid environment variable name")
    attention = r.str_table("gpu.attention")
    cc = r.get("gpu.min_compute_capability", (int, float), 7.0)
    artifacts = []
    for i, item in enumerate(r.get("artifacts", list, [])):
        if not isinstance(item, dict):
            raise r.fail(f"artifacts[{i}]", "expected a table")
        a = _reader(item, path)
        try:
            artifacts.append(
                Artifact(
                    name=canonicalize_name(a.get("name", str)),
                    version=a.get("version", str),
                    url=a.get("url", str),
                    required=a.get("required", bool, False),
                    reason=a.get("reason", str, ""),
                )
            )
        except ProfileError as exc:
            raise r.fail(f"artifacts[{i}]", exc.message.split(": ", 1)[1]) from None
    return Profile(
        name=name,
        path=path,
        summary=r.get("summary", str, ""),
        python=python,
        torch=torch,
        variants=variants,
        torch_index=torch_index,
        packages=packages,
        main_packages=tuple(canonicalize_name(m) for m in main),
        skyrl=skyrl_pins,
        excludes=tuple(canonicalize_name(e) for e in r.str_list("excludes")),
        # SkyRL's lock's resolution date; a release without a lock states the date its published requirements are
        # resolved at (source.exclude_newer), or `make lock` would lock whatever PyPI has that day
        exclude_newer=(r.get("source.exclude_newer", str, None) or cutoff) if extra else r.get("exclude_newer", str, None),
        modules=r.str_list("verify.modules"),
        gpu_modules=r.str_list("verify.gpu_modules"),
        env=env,
        min_compute_capability=float(cc),
        attention=attention,
        artifacts=tuple(artifacts),
        build_from_source=tuple(canonicalize_name(b) for b in r.str_list("build.from_source")),
        notes=r.str_list("notes"),
        skyrl_extra=extra,
        routes=tuple(routes),
        pypi_releases={canonicalize_name(k): v for k, v in r.str_table("source.pypi_releases").items()},
        pypi_drop={canonicalize_name(k): v for k, v in r.str_table("source.pypi_drop").items()},
        matrix={canonicalize_name(k): v for k, v in r.str_table("matrix").items()},
        differences={canonicalize_name(k): v for k, v in r.str_table("differences").items()},
        tested=tested,
        skyrl_entry=r.str_list("verify.skyrl_entry"),
        skyrl_imports=r.str_list("verify.skyrl_imports"),
        engine_imports=r.str_list("verify.engine_imports"),
        interface=_interface(r),
        release=release,
        requirements_published=r.str_list("source.requirements"),
    )


def _interface(r: TableReader) -> dict[str, list[str]]:
    table = r.get("verify.interface", dict, {})
    for spec, methods in table.items():
        if ":" not in spec or not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
            raise r.fail(f"verify.interface.{spec}", "expected \"module:Class\" = [method names]")
    return dict(table)


def _lock_pins(folder: Path, backend: str, routes: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str], str | None]:
    """(the extra's requirements pinned as a committed lock of this backend records them, SkyRL's own
    versions of them, the date SkyRL's lock was resolved at); only the locks' closing
    [tool.skyrl-setup] tables are read."""
    pins: dict[str, str] = {}
    tested: dict[str, str] = {}
    cutoff = None
    for c in reversed(route_locks(folder, backend, routes)):  # the PyPI route's pins carry no local labels: prefer them
        cutoff = cutoff or c.tool.get("exclude-newer")
        for spec in c.tool.get("requirements", []):
            req = Requirement(spec)
            name = canonicalize_name(req.name)
            version = str(req.specifier).lstrip("=")
            if c.route == "skyrl":
                tested.setdefault(name, version)
            try:
                pins.setdefault(name, f"=={Version(version).public}")
            except InvalidVersion:  # not PEP 440: left for the pin's own check to name
                pins.setdefault(name, f"=={version}")
    return pins, tested, cutoff


def committed_locks(profile: Profile, platform: str | None = None) -> list[Committed]:
    """The committed locks of a SkyRL-sourced backend at its release, in route order; with `platform`, only those made
    for it or for any platform."""
    return route_locks(profile.lock_dir, profile.name, profile.routes, platform)
