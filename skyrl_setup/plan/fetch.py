"""Where each group of a lock's files is fetched from: the lock's URLs, a mirror, or the configured index.

A lock names its files by upstream URL (files.pythonhosted.org, download.pytorch.org). Behind
a company mirror those hosts are often blocked, while the mirror, configured the usual way
(UV_INDEX_URL, uv.toml, pip.conf), serves the same files under its own layout. So, by group
of files (the host they sit on in the lock):

- a file the lock names by path, or a URL-addressed artifact (a GitHub release asset):
  its own URL, through --mirror when one maps it;
- a URL that a --mirror FROM=TO maps (a mirror that serves files, not index pages): the mirror;
- files on the host of a configured index, or no index but PyPI configured: the lock's URL
  (hash-pinned direct URLs, found in uv's cache by hash: the measured fast path);
- otherwise, through the configured index, by name, version and hash. The files of a
  PyTorch index go that way only when an extra index (a mirror of it) is configured.

Hashes come from the lock whichever way: a mirror serving other bytes is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_name

from skyrl_setup.detect import mirrors
from skyrl_setup.detect.index_config import IndexConfig, detect_index, is_pypi, origin
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.locks.pylock import Lock
from skyrl_setup.redact import redact


@dataclass(frozen=True)
class Route:
    group: str  # where the lock puts these files: an origin (no credentials), "local files", "artifacts"
    via: str  # "index": by name through the configured index; "mirror"; "url": the lock's own URLs; "file"
    where: str  # the index, mirror or origin they come from, credentials stripped
    names: tuple[str, ...]

    def describe(self) -> str:
        n = f"{len(self.names)} file{'s' if len(self.names) != 1 else ''}"
        if self.via == "index":
            return f"{n} of {self.group}: by name and hash through {self.where}"
        if self.via == "mirror":
            return f"{n} of {self.group}: through the mirror {self.where}"
        if self.via == "file":
            return f"{n}: local files"
        return f"{n}: from {self.where} (the lock's URLs)"

    def to_json(self) -> dict:
        return {"group": self.group, "via": self.via, "from": self.where, "count": len(self.names)}


def plan_routes(lock: Lock, cfg: IndexConfig, *, pairs: list[tuple[str, str]], url_addressed: frozenset = frozenset(),
                torch_origins: frozenset = frozenset()) -> tuple[Route, ...]:
    index_origins = {origin(u) for u in cfg.indexes}
    custom_default = bool(cfg.default) and not is_pypi(cfg.default or "")
    custom_extra = any(not is_pypi(u) for u in cfg.extra)
    through = redact(cfg.default or "https://pypi.org/simple") + "".join(f" + {redact(u)}" for u in cfg.extra)
    through += f" ({cfg.source})" if cfg.source else ""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for p in lock.packages:
        url = p.url or ""
        if not url.startswith(("http://", "https://")):
            key = ("local files", "file", "")
        elif mirrors.rewrite(url, pairs) != url:
            key = (origin(url), "mirror", origin(mirrors.rewrite(url, pairs)))
        elif p.name in url_addressed:
            key = ("artifacts", "url", origin(url))
        elif origin(url) in index_origins:
            key = (origin(url), "url", origin(url))
        elif custom_extra if origin(url) in torch_origins else custom_default:
            key = (origin(url), "index", through)
        else:
            key = (origin(url), "url", origin(url))
        groups.setdefault(key, []).append(p.name)
    return tuple(Route(g, via, where, tuple(names)) for (g, via, where), names in groups.items())


def by_name(routes: tuple[Route, ...]) -> frozenset[str]:
    return frozenset(n for r in routes if r.via == "index" for n in r.names)


def routes_for(lock: Lock, profile, mirrors_in_force: Mirrors, artifacts=(), cfg: IndexConfig | None = None) -> tuple[Route, ...]:
    """The routes of `lock` as installed for `profile`, from the settings in force now."""
    torch = frozenset(origin(u) for u in profile.torch_index.values() if u.startswith(("http://", "https://")))
    return plan_routes(lock, cfg or detect_index(), pairs=list(mirrors_in_force.pairs),
                       url_addressed=frozenset(canonicalize_name(a.name) for a in artifacts), torch_origins=torch)
