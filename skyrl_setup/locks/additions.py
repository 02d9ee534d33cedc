"""A lock as the basis of additions (`--with`, check-compat, upgrade): what it was made from, and the indexes it
takes packages from, so that a resolution on top of it stands on SkyRL's set and searches where that set came from."""

from __future__ import annotations

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from skyrl_setup.locks.pylock import Lock

PYPI = "https://pypi.org/simple"


def requirements(profile, lock: Lock, *, with_skyrl: bool) -> list[str]:
    """What a lock was made from ([tool.skyrl-setup] requirements, pinned), without SkyRL's own packages unless
    `with_skyrl`; the profile's pins where the lock does not say."""
    reqs = lock.tool.get("requirements")
    if not isinstance(reqs, list) or not reqs or not all(isinstance(r, str) for r in reqs):
        return profile.requirements(with_skyrl=with_skyrl)
    own = set(profile.skyrl)
    return [r for r in reqs if with_skyrl or canonicalize_name(Requirement(r).name) not in own]


def lock_indexes(lock: Lock, mirrors, known: list[str], cfg=None) -> list[str]:
    """The indexes a lock takes packages from beyond `known` and PyPI (PyTorch's, flashinfer's), through the mirrors.
    One that the configuration (`cfg`, detect_index()'s) stands in for is left out, as index_route fetches its files:
    behind a default index other than PyPI every index but PyTorch's; behind an extra one, PyTorch's too (unless
    on a configured index's host)."""
    from skyrl_setup.detect.index_config import detect_index, is_pypi, origin

    cfg = cfg if cfg is not None else detect_index()
    custom_default = bool(cfg.default) and not is_pypi(cfg.default)
    custom_extra = any(not is_pypi(u) for u in cfg.extra)
    torch = {p.index.rstrip("/") for p in lock.packages if p.name == "torch" and p.index}
    configured = {origin(u) for u in cfg.indexes}  # an index on a configured index's host is asked itself
    seen = {u.rstrip("/") for u in (*known, PYPI)}
    out: list[str] = []
    for p in lock.packages:
        if not p.index or p.index.rstrip("/") in seen:
            continue
        url = mirrors.rewrite(p.index)
        stood_in = custom_extra if p.index.rstrip("/") in torch else custom_default
        if url == p.index and stood_in and origin(p.index) not in configured:
            continue
        if url.rstrip("/") not in seen:
            seen.add(url.rstrip("/"))
            out.append(url)
    return out
