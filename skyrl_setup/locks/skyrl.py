"""Lockfiles from SkyRL's own lock, by two routes to the same versions.

- route `skyrl`: SkyRL's lock for one extra, exactly (torch `+cu128` from PyTorch's index,
  flashinfer's index, git sources), less what is installed otherwise (flash-attn, an
  artifact) and with skyrl-train and its path-sourced members taken from PyPI when no
  checkout is at hand.
- route `pypi`: the same versions from PyPI alone, resolved by uv with SkyRL's versions as
  constraints. Where PyPI's torch of that version is another CUDA build (2.7.x: cu126), the
  CUDA runtime packages follow torch; the lock's variant says which build it is.

uv writes every package entry; this module only selects, replaces and appends entries.
"""

from __future__ import annotations

import functools
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit
from packaging.markers import (
    InvalidMarker,
    Marker,
    UndefinedComparison,
    UndefinedEnvironmentName,
)
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from skyrl_setup import __version__
from skyrl_setup._toml import toml_reader
from skyrl_setup.catalog.lockfiles import LockRef
from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.catalog.releases import Release
from skyrl_setup.detect.index_config import detect_index
from skyrl_setup.errors import ConflictError, SetupError, UsageError
from skyrl_setup.locks.compile import (
    NO_CUTOFF,
    hid_by_date,
    lowest_level,
    uv_platform,
    uv_reads,
)
from skyrl_setup.locks.pylock import append_tool_table
from skyrl_setup.locks.skyrl_source import SkyrlSource, export, require_extra
from skyrl_setup.uv.backend import Uv
from skyrl_setup.uv.failures import short_cause

FAR_FUTURE = "2100-01-01T00:00:00Z"
_CUDA_RUNTIME = re.compile(r"^nvidia-.*-cu\d+$")


@dataclass(frozen=True)
class RouteLock:
    route: str
    variant: str
    path: Path
    package_count: int
    changes: tuple[str, ...]  # what differs from SkyRL's lock, one line each


def _blocks(text: str) -> tuple[str, list[str]]:
    head, *rest = text.split("\n[[packages]]\n")
    return head, ["[[packages]]\n" + b.strip("\n") + "\n" for b in rest]


@functools.lru_cache(maxsize=4096)
def _entry(block: str) -> dict:
    """A [[packages]] block's table (read-only: it is shared between calls)."""
    return toml_reader.loads(block)["packages"][0]


def _name(block: str) -> str:
    return canonicalize_name(_entry(block).get("name", ""))


def _join(head: str, blocks: list[str]) -> str:
    blocks = sorted(blocks, key=lambda b: (_name(b), b))
    return head.rstrip("\n") + "\n\n" + "\n".join(blocks)


def _url_host(entry: dict) -> str:
    """The scheme and host an entry outside any index is fetched from (a git URL's without its `git+`)."""
    urls = [s["url"] for s in (entry.get("vcs"), entry.get("archive"), entry.get("sdist"), *entry.get("wheels", ())) if s and s.get("url")]
    parts = urlsplit(urls[0]) if urls else None
    return f"{parts.scheme.split('+')[-1]}://{parts.netloc}" if parts else "outside any index"


def variant_of(text: str) -> str:
    """The CUDA build a lock installs, read from its CUDA runtime package (12.6.77 -> cu126)."""
    for block in _blocks(text)[1]:
        m = re.fullmatch(r"nvidia-cuda-runtime(-cu\d+)?", _name(block))  # CUDA 13's runtime dropped the suffix
        version = _entry(block).get("version")
        if m and version:
            major, minor = version.split(".")[:2]
            return f"cu{major}{minor}"
    return "cpu"


def latest_upload(text: str) -> str:
    """Just after the newest file of a lock: uv's --exclude-newer admits only files uploaded before it."""
    times = re.findall(r"upload-time = (\d{4}-\d\d-\d\dT[\d:]+Z)", text)
    if not times:
        return FAR_FUTURE
    newest = datetime.strptime(max(times), "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=1)
    return newest.strftime("%Y-%m-%dT%H:%M:%SZ")


def require_python(source: SkyrlSource, profile: Profile) -> None:
    """A lock is made for the profile's Python (its minor, any patch): a source that excludes it gets no lockfile for it."""
    try:
        spec = SpecifierSet(source.requires_python)
    except InvalidSpecifier:
        raise UsageError(f"{source.root}: requires-python {source.requires_python!r} is not a version specifier",
                         "fix [project] requires-python in its pyproject.toml") from None
    if not any(spec.contains(f"{profile.python}.{patch}", prereleases=True) for patch in range(50)):
        raise UsageError(f"{source.root}: {source.name} {source.version} requires Python {source.requires_python}, and the "
                         f"{profile.name} profile's environments run Python {profile.python}: no lockfile is written for them",
                         f"lock a SkyRL release or checkout whose requires-python admits Python {profile.python}")


def _pinned_here(constraints: list[str], platform: str, python: str) -> frozenset[str]:
    """The names a constraint pins on this platform (no marker, or one true here): their versions are SkyRL's."""
    env = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
           "platform_machine": platform.partition("_")[2], "python_version": python, "python_full_version": f"{python}.0",
           "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    out = set()
    for c in constraints:
        name, _, marker = c.partition(" ; ")
        try:
            if not marker or Marker(marker).evaluate(env):
                out.add(name.split("==")[0])
        except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            continue  # a marker this check cannot judge: the date cutoff stays on
    return frozenset(out)


def _date_hint(exc: SetupError, uv_output: str, cutoff: str) -> SetupError:
    """Where uv says the date cutoff hid a package's files, the hint says why that may be: an index without upload times."""
    if hid_by_date(uv_output):
        exc.hint = (f"a package SkyRL's lock does not pin keeps the date cutoff {cutoff} (just after the lock's newest file) "
                    f"and uv found no file of it from before then; an index without upload times (PEP 503 HTML pages, as "
                    f"many mirrors serve) hides every such file: lock through one that serves them (PEP 691 JSON); {exc.hint}")
    return exc


def _pypi_entries(uv: Uv, specs: list[str], tmp: Path, platform: str | None, python: str) -> list[str]:
    """Entries for exact releases from the configured index (PyPI unless UV_INDEX_URL says otherwise)."""
    if not specs:
        return []
    req, out = tmp / "releases.in", tmp / "pylock.releases.toml"
    req.write_text("\n".join(specs) + "\n", encoding="utf-8")
    with uv_reads(detect_index(), default_only=True):  # PyPI's releases: from the default index (or its mirror) alone
        uv.pip_compile(req, out, what="looking up " + ", ".join(specs), python_version=python, no_deps=True, header=False,
                       python_platform=uv_platform(platform) if platform else None)
    return _blocks(out.read_text(encoding="utf-8"))[1]


def _absolute_directories(block: str, root: Path) -> str:
    """A checkout's path entry, relative to its folder in uv's output, made absolute; the rest as uv wrote it."""
    if "directory" not in _entry(block):
        return block
    doc = tomlkit.parse(block)
    directory = doc["packages"][0]["directory"]
    directory["path"] = str((root / directory["path"]).resolve())
    return tomlkit.dumps(doc)


def exact_lock(uv: Uv, source: SkyrlSource, profile: Profile, output_dir: Path, *, checkout: bool = False) -> RouteLock:
    """`checkout`: for `install --project`: the checkout's path members stay editable and skyrl-train
    itself is not added (it is installed from the checkout)."""
    with tempfile.TemporaryDirectory(prefix="skyrl-setup-export-") as d:
        tmp = Path(d)
        exported = export(uv, source, require_extra(source, profile.skyrl_extra), tmp / "pylock.export.toml").read_text(encoding="utf-8")
        head, blocks = _blocks(exported)
        changes, keep, add = [], [], [] if checkout else [f"{source.name}=={source.version}"]
        for b in blocks:
            name = _name(b)
            if name in profile.excludes and "wheels" not in _entry(b):  # a lock that has its wheel (an index of prebuilt builds) keeps it
                changes.append(f"{name}: left out of the lock; installed as an artifact (prebuilt wheel)")
            elif "directory" in _entry(b) and checkout:
                keep.append(_absolute_directories(b, tmp))  # uv writes it relative to its output
                changes.append(f"{name}: editable from the checkout")
            elif "directory" in _entry(b):
                release = profile.pypi_releases.get(name)
                if not release:
                    raise UsageError(f"{profile.path}: SkyRL's lock installs {name} from a folder and the profile names no PyPI release for it",
                                     f"add `{name} = \"VERSION\"` to pypi_releases under [backends.{profile.name}.source] in the release's file")
                add.append(f"{name}=={release}")
                changes.append(f"{name}: SkyRL's lock installs it from its checkout; PyPI's {release} here")
            else:
                keep.append(b)
        keep += _pypi_entries(uv, add, tmp, None, profile.python)
    text = _join(head, keep)
    return _write(text, output_dir / "pylock.toml", "skyrl", source, profile, platform="any", changes=changes,
                  requirements=_pinned(source, profile, text))


def pypi_lock(uv: Uv, source: SkyrlSource, profile: Profile, platform: str, output_dir: Path, *,
              checkout: bool = False) -> RouteLock:
    with tempfile.TemporaryDirectory(prefix="skyrl-setup-pypi-") as d:
        tmp = Path(d)
        extra = require_extra(source, profile.skyrl_extra)
        exported = export(uv, source, extra, tmp / "pylock.export.toml").read_text(encoding="utf-8")
        members = {n: p for n, p in source.path_sources.items() if checkout and source.checkout_has(n)}
        reqs, changes = ([] if checkout else [f"{source.name}=={source.version}"]), []
        reqs += [f"-e {p}" for p in members.values()]
        changes += [f"{n}: editable from the checkout" for n in members]
        wanted = list(source.dependencies) if checkout else []  # the project itself is installed from the checkout
        for r in wanted + list(source.requirements(extra)):
            req = Requirement(r)
            name: str = canonicalize_name(req.name)
            if name in members:
                continue
            if name in profile.pypi_drop:
                changes.append(f"{name}: left out ({profile.pypi_drop[name]})")
            elif name in profile.pypi_releases:
                reqs.append(f"{name}=={profile.pypi_releases[name]}")
                changes.append(f"{name}: PyPI's {profile.pypi_releases[name]} for SkyRL's {req.url or 'source'}")
            elif req.url:
                raise UsageError(f"{profile.path}: SkyRL's {profile.skyrl_extra} extra takes {name} from {req.url}, which PyPI does not serve",
                                 f"name its nearest PyPI release in pypi_releases under [backends.{profile.name}.source] ({name} = \"VERSION\")")
            elif name not in profile.excludes:
                reqs.append(str(req))
        for name, release in profile.pypi_releases.items():
            if name not in members and not any(not r.startswith("-e ") and canonicalize_name(Requirement(r).name) == name
                                               for r in reqs):
                reqs.append(f"{name}=={release}")
                changes.append(f"{name}: SkyRL's lock installs it from its checkout; PyPI's {release} here")
        changes += [f"{name}: left out of the lock; installed as an artifact (prebuilt wheel)" for name in profile.excludes
                    if name not in profile.pypi_drop]
        skip = set(profile.pypi_drop) | set(profile.pypi_releases) | set(profile.excludes) | set(members)
        constraints: list[str] = []
        off_index: dict[str, str] = {}
        for b in _blocks(exported)[1]:
            entry = _entry(b)
            name, version, marker = _name(b), entry.get("version"), entry.get("marker")
            if name in skip or not (name and version):
                continue
            if "index" not in entry:  # a URL or git build PyPI need not have: PyPI's release of it floats
                off_index.setdefault(name, f"{version} from {_url_host(entry)}")
            else:  # the marker stays: a lock may pin another version elsewhere
                constraints.append(f"{name}=={Version(version).public}" + (f" ; {marker}" if marker else ""))
        constraints = [c for c in constraints if c.split("==")[0] not in off_index]
        changes += [f"{n}: SkyRL's lock takes {where}; PyPI's release here" for n, where in sorted(off_index.items())]
        pypi_torch = next((c.split(" ;")[0] for c in constraints if c.startswith("torch==")), None)
        (tmp / "requirements.in").write_text("\n".join(reqs) + "\n", encoding="utf-8")
        (tmp / "excludes.txt").write_text("\n".join(profile.excludes) + "\n", encoding="utf-8")
        (tmp / "overrides.txt").write_text("\n".join(source.overrides) + "\n", encoding="utf-8")
        cutoff = latest_upload(exported)
        out = tmp / "pylock.pypi.toml"
        pinned = _pinned_here(constraints, platform, profile.python)
        # an index without upload times (PEP 503 HTML pages: many mirrors) makes uv drop every file the date cutoff
        # applies to; once uv says so, what SkyRL's lock pins (and torch pins) is freed of it: its version is chosen
        # already. With upload times the cutoff stays on for all: the lockfiles stay byte for byte the same.
        freed: set[str] = set()
        runtime: set[str] = set()

        def compile_at(level: int, output: Path | None = None, check: bool = False):
            def run():
                exempt = {n: NO_CUTOFF if n in freed else FAR_FUTURE for n in sorted({source.name, *profile.pypi_releases, *freed})}
                with uv_reads(detect_index(), default_only=True):
                    return uv.pip_compile(tmp / "requirements.in", output or tmp / f"pylock.level{level}.toml",
                                          python_version=profile.python, python_platform=uv_platform(platform, level),
                                          constraints=tmp / "constraints.txt", excludes=tmp / "excludes.txt",
                                          overrides=tmp / "overrides.txt", header=False, exclude_newer=cutoff,
                                          exclude_newer_packages=exempt, check=False,
                                          what=f"resolving SkyRL's {profile.skyrl_extra} versions from PyPI alone ({pypi_torch})")
            res = run()
            if res.error is not None and not freed and hid_by_date(res.stderr):
                freed.update({source.name, *profile.pypi_releases, *pinned, *runtime})
                res = run()
            if res.error is not None and check:
                raise _date_hint(res.error, res.stderr, cutoff)
            return res
        for attempt in ("same CUDA runtime", "torch's own CUDA runtime"):
            if attempt != "same CUDA runtime":  # PyPI's torch of this version is another CUDA build
                # PyPI's torch pins its CUDA runtime packages exactly: torch, not the date, chooses their versions
                runtime.update(c.split("==")[0] for c in constraints if _CUDA_RUNTIME.match(c.split("==")[0]))
                freed.update(runtime if freed else ())
                constraints = [c for c in constraints if not _CUDA_RUNTIME.match(c.split("==")[0])]
            level = lowest_level(compile_at, constraints, tmp)
            res = compile_at(level, out, check=attempt != "same CUDA runtime")
            if res.error is None:
                break
            if not isinstance(res.error, ConflictError):  # a network or build failure: no other CUDA runtime helps
                raise _date_hint(res.error, res.stderr, cutoff)
            if not re.search(r"nvidia-[a-z-]+-cu\d+", res.stderr):  # not the CUDA build's runtime: a real conflict
                raise _date_hint(ConflictError(f"resolving SkyRL's {profile.skyrl_extra} versions from PyPI alone: "
                                               f"{short_cause(res.stderr)}", f"uv's full output is in {res.log}"), res.stderr, cutoff)
        head, blocks = _blocks(out.read_text(encoding="utf-8"))
        text = _join(head, [_absolute_directories(b, out.parent) for b in blocks])
    variant = variant_of(text)
    if attempt != "same CUDA runtime" and variant == variant_of(exported):
        changes.append("nvidia-*-cu*: the CUDA runtime packages are PyPI torch's own, not SkyRL's pins")
    if variant != variant_of(exported):
        assert pypi_torch is not None, "another CUDA build: torch was pinned from SkyRL's lock"  # its index's torch==X constraint
        changes.append(f"torch: PyPI's {pypi_torch.split('==')[1]} is the {variant} build (SkyRL's lock: {variant_of(exported)} "
                       f"from PyTorch's index); its CUDA runtime packages come with it")
    output = LockRef(output_dir, profile.name, variant, platform, "pypi").path
    return _write(text, output, "pypi", source, profile, platform=platform, changes=changes,
                  requirements=_pinned(source, profile, text), exclude_newer=cutoff, manylinux=level)


def _pinned(source: SkyrlSource | None, profile: Profile, text: str) -> list[str]:
    """The extra's own requirements, pinned to what the lock holds: what an upgrade or `--with` re-resolves."""
    versions = {_name(b): v for b in _blocks(text)[1] if (v := _entry(b).get("version"))}
    own = (source.name, *source.requirements(require_extra(source, profile.skyrl_extra))) if source else \
        (_release(profile).distribution, "skyrl-gym", *profile.requirements_published)
    out: list[str] = []
    for r in (*own[:1], *profile.pypi_releases, *own[1:], *profile.main_packages):
        req = Requirement(r)
        name = canonicalize_name(req.name)
        if name in versions and not any(o.split("==")[0].split("[")[0] == name for o in out):
            extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
            out.append(f"{name}{extras}=={versions[name]}")
    return out


def _release(profile: Profile) -> Release:
    """The release of a profile locked without a SkyRL source: one that publishes its requirements (lock_cmd._published)."""
    if profile.release is None:
        raise ValueError(f"the {profile.name} profile names no SkyRL release, so nothing was published for it")
    return profile.release


def _write(text: str, output: Path, route: str, source: SkyrlSource | None, profile: Profile, *, platform: str,
           changes: list[str], requirements: list[str], exclude_newer: str | None = None,
           manylinux: int | None = None) -> RouteLock:
    variant = variant_of(text)
    if variant not in profile.variants:
        raise UsageError(f"SkyRL's {profile.skyrl_extra} lock by the {route} route installs {variant}, which the {profile.name} "
                         f"profile does not list ({', '.join(profile.variants)})", f"add {variant} to [cuda] variants in {profile.path}")
    output = LockRef(output.parent, profile.name, variant, platform, route).path
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f"pylock.partial{id(text)}.toml")
    tmp.write_text(text, encoding="utf-8")
    meta: dict = {"backend": profile.name, "route": route, "cuda": variant, "platform": platform, "python": profile.python,
                  **(source.identity() if source else {"skyrl-source": "PyPI", "skyrl-version": _release(profile).version}),
                  "skyrl-release": profile.release.id if profile.release else None,
                  "skyrl-extra": profile.skyrl_extra, "tool-version": __version__,
                  "requirements": requirements, "changes": changes}
    meta = {k: v for k, v in meta.items() if v is not None}
    if manylinux:
        meta["manylinux"] = f"2_{manylinux}"
    if exclude_newer:
        meta["exclude-newer"] = exclude_newer
    append_tool_table(tmp, meta)
    toml_reader.loads(tmp.read_text(encoding="utf-8"))  # what we append must stay valid TOML
    tmp.replace(output)
    count = len(_blocks(text)[1])
    return RouteLock(route, variant, output, count, tuple(changes))


def published_lock(uv: Uv, profile: Profile, platform: str, output_dir: Path, *, mirrors) -> RouteLock:
    """A release with no public lock: its extra's published requirements resolved from PyPI, less what PyPI
    lacks or serves only as an sdist (the profile's excludes, each an artifact), for the lowest manylinux
    level at which every package has a wheel."""
    with tempfile.TemporaryDirectory(prefix="skyrl-setup-published-") as d:
        tmp = Path(d)
        (tmp / "requirements.in").write_text("\n".join(profile.requirements_published) + "\n", encoding="utf-8")
        (tmp / "excludes.txt").write_text("\n".join(profile.excludes) + "\n", encoding="utf-8")
        what = f"resolving {_release(profile).label}'s {profile.skyrl_extra} requirements from PyPI"

        def compile_at(level: int, out: Path | None = None):
            with uv_reads(detect_index(), default_only=True):
                return uv.pip_compile(tmp / "requirements.in", out or tmp / f"pylock.level{level}.toml",
                                      python_version=profile.python, python_platform=uv_platform(platform, level),
                                      excludes=tmp / "excludes.txt", header=False, what=what, check=out is not None,
                                      exclude_newer=profile.exclude_newer)
        level = lowest_level(compile_at, [], tmp)
        out = tmp / "pylock.published.toml"
        compile_at(level, out)
        head, blocks = _blocks(out.read_text(encoding="utf-8"))
        text = _join(head, blocks)
    changes = [f"{name}: left out of the lock ({profile.pypi_drop.get(name, 'installed as an artifact')})"
               for name in profile.excludes]
    return _write(text, output_dir / "pylock.toml", "pypi", None, profile, platform=platform, changes=changes,
                  requirements=_pinned(None, profile, text), exclude_newer=profile.exclude_newer, manylinux=level)
