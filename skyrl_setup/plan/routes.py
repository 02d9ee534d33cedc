"""Which committed lock a SkyRL-sourced backend installs here: a planning decision.

Each route is a committed lockfile of the same versions (see skyrl_locks). They are tried in
the profile's order; a route is taken when this host can use it: the driver runs its CUDA
variant (NVIDIA's floors), the official torch wheel of that variant has kernels for every GPU
found, and the hosts its files come from (after mirrors) answer: one probe per index or host, and
for a configured extra index standing in for PyTorch's, one GET of its torch page, which must list
the lock's torch build. The first route that passes is taken and the plan says why each earlier
one was not.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import httpx
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from skyrl_setup.catalog import releases
from skyrl_setup.catalog.cuda_policy import (
    TORCH_WHEEL_ARCHES,
    VariantChoice,
    judge,
    wheel_covers,
)
from skyrl_setup.catalog.profiles import Profile, committed_locks
from skyrl_setup.detect.gpu import DriverInfo
from skyrl_setup.detect.index_config import IndexConfig, detect_index, is_pypi, origin
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.errors import OperationError, PreconditionError, UsageError
from skyrl_setup.locks.pylock import Lock, load_for_host
from skyrl_setup.redact import redact

PYPI_SIMPLE = "https://pypi.org/simple"
# a route probe's limit: a host behind a firewall that drops packets costs this, not uv's or httpx's minutes
PROBE_TIMEOUT = 1.5
AHEAD_AFTER = 0.02  # s: answers from the probe cache (doctor, a warm pre-check) come sooner; a network's later
ROUTE_WORDS = {"skyrl": "SkyRL's lock exactly", "pypi": "SkyRL's versions from PyPI alone"}


@dataclass(frozen=True)
class RouteChoice:
    route: str
    lock: Lock
    cuda: VariantChoice
    reason: str
    skipped: tuple[str, ...] = ()  # one line per route not taken, with why

    def to_json(self) -> dict:
        return {"route": self.route, "what": ROUTE_WORDS.get(self.route, self.route), "cuda": self.cuda.variant,
                "lockfile": str(self.lock.path), "reason": self.reason, "skipped": list(self.skipped)}


def committed_lock(profile: Profile, platform: str, python_full: str, cuda: str | None) -> tuple[Lock, str]:
    """The committed lock of a SkyRL-sourced profile for a CUDA variant (else its first route), with no
    probing: for what is made elsewhere from it (a bundle, an image)."""
    for c in committed_locks(profile, platform):
        if cuda in (None, "auto") or c.tool.get("cuda") == cuda:
            return load_for_host(c.path, python_full, platform), f"committed lockfile, route {c.route}"
    raise UsageError(f"no committed lockfile of {profile.name} for {cuda or 'any CUDA variant'} on {platform}",
                     f"the {profile.name} profile has {', '.join(profile.variants)}; or make one: `skyrl-setup lock --from-skyrl DIR`")


def extra_sources(lock: Lock, mirrors: Mirrors | None = None, cfg: IndexConfig | None = None,
                  url_addressed: frozenset = frozenset()) -> dict[str, str]:
    """The places a route needs beyond the default index (PyTorch's index, flashinfer's, a git host): each
    index, or each host of direct URLs -> one URL there to probe, through `mirrors`. A file the lock names on PyPI
    comes through the default index (PyPI or the mirror configured for it) and is never probed. Where the
    configuration stands in for a lock's index or file host (a configured extra index for PyTorch's, a configured
    default for the rest but git, `url_addressed` artifacts and files on a configured index's host), as index_route
    fetches their files, the configured index is probed instead: one page of it."""
    mirrors = mirrors or Mirrors()
    cfg = cfg if cfg is not None else detect_index()
    default = (cfg.default or PYPI_SIMPLE).rstrip("/")
    custom = [cfg.default] if cfg.default and not is_pypi(cfg.default) else []
    extras = [u for u in cfg.extra if not is_pypi(u)]
    torch = {p.index.rstrip("/") for p in lock.packages if p.name == "torch" and p.index}
    configured = {origin(u) for u in cfg.indexes}  # files on a configured index's host come by their own URLs
    out: dict[str, str] = {}
    for p in lock.packages:
        if not p.url or p.source == "directory" or is_pypi(p.index or p.url) or (p.index or "").rstrip("/") == default:
            continue
        url = p.url.split("+", 1)[1].rsplit("@", 1)[0] if p.source == "vcs" else p.url
        where = p.index.rstrip("/") if p.index else origin(url)
        by_name = (p.source != "vcs" and p.name not in url_addressed and origin(url) not in configured
                   and mirrors.rewrite(p.index or url) == (p.index or url))
        stand_ins = (extras if p.index and where in torch else custom) if by_name else []
        for idx in stand_ins:
            out.setdefault(idx.rstrip("/"), f"{idx.rstrip('/')}/{p.name}/")
        if not stand_ins:
            out.setdefault(mirrors.rewrite(where), mirrors.rewrite(url))
    return out


_torch_pages: dict[tuple[str, str], str | None] = {}  # the pre-check and the plan judge an index once per run


def serves_torch(index: str, version: str) -> str | None:
    """None where `index`'s torch page lists torch `version` (2.7.1+cu128: a build only PyTorch's index has), else why
    not, in words: one GET, PROBE_TIMEOUT at most for each step."""
    key = (index.rstrip("/"), version)
    if key not in _torch_pages:
        _torch_pages[key] = _torch_page(*key)
    return _torch_pages[key]


def _torch_page(index: str, version: str) -> str | None:
    from skyrl_setup.resolver.auth import for_configured
    from skyrl_setup.resolver.index import JSON_ACCEPT, page_url, parse_page
    from skyrl_setup.resolver.localfiles import local_response
    from skyrl_setup.uv.backend import offline_requested

    url = page_url(index, "torch")
    if offline_requested() and not url.startswith("file:"):
        return "unreachable (offline mode)"
    try:
        if url.startswith("file:"):
            r = local_response(url)
        else:
            with httpx.Client(timeout=PROBE_TIMEOUT, follow_redirects=True, auth=for_configured(),
                              headers={"User-Agent": "skyrl-setup", "Accept": JSON_ACCEPT}) as http:
                r = http.get(url)
        if r.status_code >= 400:
            return f"unreachable (HTTP {r.status_code} for its torch page; probed for {PROBE_TIMEOUT:g} s)"
        files = [f["filename"] for f in parse_page(r, url) if f["filename"].endswith(".whl")]
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__}: {redact(str(exc)) or 'no answer'}; probed for {PROBE_TIMEOUT:g} s)"
    except (ValueError, KeyError, TypeError):
        return "sent a malformed torch page"
    if any(parse_wheel_filename(f)[1] == Version(version) for f in files):
        return None
    local = Version(version).local
    return (f"does not stand in for PyTorch's index: its torch page lists no torch {version} wheel"
            + (f" (no +{local} build: a mirror of PyPI, not of PyTorch's {local} index?)" if local else ""))


def _uncovered(variant: str, driver: DriverInfo) -> list[str]:
    return [f"{g.name} (sm_{g.capability[0]}{g.capability[1]})" for g in driver.gpus
            if wheel_covers(variant, g.capability) is False]


class _Given:
    """A committed lockfile as a candidate: reading it is all it costs, so it may be read ahead while probes wait."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self) -> Path:
        return self.path


def _read_ahead(candidates: list[tuple[str, Callable[[], Path]]], i: int, python_full: str, platform: str) -> Lock | None:
    """Candidate i's lock, read while the previous route's probes wait on the network; None where it is not a committed
    file (a lock resolved on demand is made only if its route is tried) or reading it fails (it fails again, in turn)."""
    if i >= len(candidates) or not isinstance(candidates[i][1], _Given):
        return None
    try:
        return load_for_host(candidates[i][1](), python_full, platform)
    except Exception:  # noqa: BLE001 - raised again where the route is tried, as before
        return None


def choose_route(profile: Profile, platform: str, python_full: str, driver: DriverInfo, requested: str | None,
                 probe: Callable[[str], str | None], mirrors: Mirrors,
                 candidates: list[tuple[str, Callable[[], Path]]] | None = None,
                 alongside: Callable[[Lock, str], None] = lambda lock, variant: None) -> RouteChoice:
    """`candidates`: (route, a function giving its lockfile), made only when the route is tried;
    by default the profile's committed lockfiles. `alongside(lock, variant)` is told of each route as its places are
    probed: the planner asks what it will need if the route is taken (its artifacts) on threads of its own, so that a
    second silent host costs no second wait; those answers neither decide nor delay the route."""
    if candidates is None:
        candidates = [(c.route, _Given(c.path)) for c in committed_locks(profile, platform)]
    why = releases.needs_checkout(profile.release, profile.name) if profile.release else None
    if not candidates and why:
        raise UsageError(why, f"install it from a SkyRL checkout whose hosts you reach: `skyrl-setup install --backend "
                              f"{profile.name} --project DIR`")
    if not candidates:
        raise UsageError(f"no committed lockfile of the {profile.name} profile for {platform}",
                         "make them from SkyRL's lock: `skyrl-setup lock --from-skyrl DIR` (or `make lock`)")
    skipped: list[str] = []
    unreachable = False
    causes: set[str] = set()  # why routes were ruled out: the hint names what would help, not always the driver
    read_ahead: dict[int, Lock] = {}
    cfg: IndexConfig | None = None
    for i, (route, make) in enumerate(candidates):
        ahead = read_ahead.pop(i, None)
        lock = ahead if ahead is not None else load_for_host(make(), python_full, platform)
        variant = lock.tool.get("cuda", "")
        label = f"{route} ({variant})"
        if requested and requested != "auto" and variant != requested:
            skipped.append(f"{label}: --cuda {requested} was asked for")
            continue
        why = "asked for with --cuda" if requested and requested != "auto" else f"the {profile.name} profile's route {route}"
        cuda = judge(variant, driver.version, why)
        if cuda.error:
            skipped.append(f"{label}: {cuda.error}")
            causes.add("driver")
            continue
        uncovered = _uncovered(variant, driver)
        if uncovered:
            arches = ", ".join(f"sm_{a}" for a in TORCH_WHEEL_ARCHES[variant])
            skipped.append(f"{label}: torch's {variant} wheels have no kernels for {', '.join(uncovered)} (built for {arches})")
            causes.add("gpu")
            continue
        # the last route is the fallback: uv reports its index's failures itself (and the cache may do)
        cfg = cfg or detect_index()
        places = extra_sources(lock, mirrors, cfg, url_addressed=frozenset(a.name for a in profile.artifacts)) \
            if i < len(candidates) - 1 else {}
        torch = next((p.version for p in lock.packages if p.name == "torch" and p.index), None)
        # a configured extra index stands in for PyTorch's: judged by what it serves, since a PyPI mirror answers too
        stand_ins = {u.rstrip("/") for u in cfg.extra if not is_pypi(u)} & set(places) if torch else set()

        def ask(where: str, stand_ins=stand_ins, torch=torch, places=places) -> str | None:  # this iteration's
            if where in stand_ins:
                return serves_torch(where, torch)
            e = probe(places[where])
            return e and f"unreachable ({e}; probed for {PROBE_TIMEOUT:g} s)"
        with ThreadPoolExecutor(max_workers=8) as pool:  # one file or page per index or host, all at once
            futures = [pool.submit(ask, where) for where in places]
            alongside(lock, variant)
            # still waiting (a host that is slow or silent, not a cached answer): the next route's lock is read
            # meanwhile, so a silent host costs PROBE_TIMEOUT, not that plus the read
            if futures and wait(futures, timeout=AHEAD_AFTER).not_done:
                ahead = _read_ahead(candidates, i + 1, python_full, platform)
                if ahead is not None:
                    read_ahead[i + 1] = ahead
            errors = [f.result() for f in futures]
        down = [f"{redact(where)} {e}" for where, e in zip(places, errors) if e]
        if down:
            skipped.append(f"{label}: " + "; ".join(down))
            unreachable = True
            continue
        probed = i < len(candidates) - 1
        reason = f"{ROUTE_WORDS.get(route, route)}: " + (
            (f"the hosts it needs beyond the default index answered ({len(places)} probed at once, {PROBE_TIMEOUT:g} s each at most)"
             if places else "its files all come through the default index (nothing to probe)")
            if probed else "the last route (not probed: uv reports what it cannot fetch)")
        reason += "".join(f"; {redact(where)} stands in for PyTorch's index (it lists torch {torch})" for where in sorted(stand_ins))
        if variant in TORCH_WHEEL_ARCHES and not driver.gpus:
            arches = ", ".join(f"sm_{a}" for a in TORCH_WHEEL_ARCHES[variant])
            reason += f"; no GPU seen here: torch's {variant} wheels run on {arches}"
        return RouteChoice(route, lock, cuda, reason, tuple(skipped))
    fixes = _fixes(causes, driver, requested)
    if not unreachable:  # every route was ruled out by the driver or the GPUs: a system precondition
        raise PreconditionError(f"no route of the {profile.name} profile runs here: " + "; ".join(skipped), "; ".join(fixes))
    raise OperationError(
        f"no route of the {profile.name} profile can be installed here: " + "; ".join(skipped),
        "; ".join(["reach PyTorch's index (or map it to a mirror with --mirror FROM=TO), or build where it is "
                   "reachable and use `skyrl-setup bundle`", *fixes]),
        details={"skipped": skipped})


def _fixes(causes: set[str], driver: DriverInfo, requested: str | None) -> list[str]:
    out = []
    if "driver" in causes:
        out.append("upgrade the NVIDIA driver (see `skyrl-setup doctor`)")
    if "gpu" in causes:
        covering = [v for v in TORCH_WHEEL_ARCHES if not _uncovered(v, driver)]
        out.append(f"this GPU needs torch built for {' or '.join(covering) or 'a newer CUDA'}"
                   + (f" (--cuda {covering[0]} or auto)" if covering and requested and requested != "auto" else ""))
    if requested and requested != "auto" and not out:
        out.append("pick another --cuda, or auto")
    return out
