"""Doctor: the configured package index, and whether the lock's files are reachable the way install fetches them.

One file per group of the lock's files (index_route): through the configured index, its
project page then a HEAD of the file it lists with the lock's hash; through a mirror or the
lock's own URL, a HEAD of that URL. The probe returns facts and never raises; URLs are
shown with credentials stripped.
"""

from __future__ import annotations

from urllib.parse import unquote

import httpx

from skyrl_setup.detect.index_config import IndexConfig
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.doctor import Check
from skyrl_setup.errors import SetupError
from skyrl_setup.locks.pylock import Lock
from skyrl_setup.plan.fetch import Route
from skyrl_setup.redact import redact
from skyrl_setup.resolver.auth import IndexAuth
from skyrl_setup.uv.backend import offline_requested


def probe_routes(lock: Lock | None, routes: tuple[Route, ...], cfg: IndexConfig, mirrors: Mirrors,
                 timeout: float = 5.0) -> list[dict]:
    """For each group of files: which file was tried, where, and what came back."""
    if lock is None or offline_requested():
        return []
    pkgs = {p.name: p for p in lock.packages}
    out = []
    with httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": "skyrl-setup"},
                      auth=IndexAuth(cfg.indexes)) as http:
        for r in routes:
            if r.via == "file" or not r.names:
                continue
            p = pkgs[r.names[0]]
            fact: dict = {"group": r.group, "via": r.via, "from": r.where, "package": f"{p.name} {p.version}",
                    "url": None, "status": None, "error": None}
            try:
                url = _listed_url(p, cfg, timeout) if r.via == "index" else mirrors.rewrite(p.url or "")
                if url is None:
                    fact["error"] = "not listed on the index with the lock's hash"
                else:
                    fact["url"] = redact(url)
                    fact["status"] = http.head(url).status_code
            except (httpx.HTTPError, SetupError, OSError, ValueError) as exc:
                fact["error"] = redact(getattr(exc, "message", "") or f"{type(exc).__name__}: {exc}")
            out.append(fact)
    return out


def _listed_url(p, cfg: IndexConfig, timeout: float) -> str | None:
    from skyrl_setup.resolver.index import IndexClient

    client = IndexClient(list(cfg.indexes), ttl=0, timeout=timeout)
    try:
        name = unquote((p.url or "").rsplit("/", 1)[-1])
        for link in client.files(p.name):
            if link.sha256 == p.sha256 or link.filename == name:
                return link.url
        return None
    finally:
        client.close()


def check_index(cfg: IndexConfig, lock: Lock | None, facts: list[dict]) -> list[Check]:
    where = cfg.shown() + (f" (from {cfg.source})" if cfg.source else "")
    extra = "".join(f", extra {redact(u)}" for u in cfg.extra)
    out = [Check("system.index", "ok", f"package index: {where}{extra}", details=cfg.to_json())]
    if lock is None:
        return out
    if not facts:
        out.append(Check("system.index_files", "skipped", "lock files' reachability: not checked (offline, or nothing to fetch)"))
    for f in facts:
        ok = f["status"] is not None and f["status"] < 400
        how = {"index": f"of {f['group']} by name through {f['from']}", "mirror": f"of {f['group']} through the mirror {f['from']}",
               }.get(f["via"], f"at {f['from']} (the lock's URLs)")
        got = f"HTTP {f['status']}" if f["status"] is not None else f["error"]
        summary = f"{lock.path.name}: files {how}: {f['package']} {'reachable' if ok else 'NOT reachable'} ({got})"
        out.append(Check("system.index_files", "ok" if ok else "error", summary, "" if ok else _fix(f, cfg), details=f))
    return out


def _fix(f: dict, cfg: IndexConfig) -> str:
    if f["via"] == "index":
        return (f"make {f['from']} serve {f['package']} (a remote repository of PyPI, and of PyTorch's index as an extra index), "
                "or point UV_INDEX_URL / pip's index-url at one that does")
    if f["via"] == "mirror":
        return f"check the mirror {f['from']} (its FROM=TO mapping in --mirror, SKYRL_SETUP_MIRRORS or mirrors.toml)"
    return (f"{f['from']} is not reachable from here: set UV_INDEX_URL or pip's index-url to your mirror of PyPI "
            "(UV_EXTRA_INDEX_URL for a mirror of PyTorch's index), map the files with --mirror FROM=TO, "
            "or install with --from-bundle")
