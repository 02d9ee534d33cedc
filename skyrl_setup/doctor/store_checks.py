"""Checks of the store an environment lives in (store/generations.py), read from where its python says it is.

doctor probes `T/bin/python`; the real path of its prefix is `.T.skyrl/gen-NNNN`, which names the store and the
target. Three things the packages alone do not show: the environment was moved (its scripts name the old
path), the store's bookkeeping disagrees with the link, and a file it shares with other generations or uv's
cache was edited in place.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from skyrl_setup.doctor import Check, guarded
from skyrl_setup.humanize import sh
from skyrl_setup.store.generations import GEN_RE, Store
from skyrl_setup.store.record import EnvRecord
from skyrl_setup.store.sharing import edits_since_built

_STORE_RE = re.compile(r"^\.(.+)\.skyrl$")


def store_checks(facts: dict, record: EnvRecord | None) -> list[Check]:
    found = locate(facts.get("prefix"))
    if found is None:
        return []  # not a generation of a store: a venv skyrl-setup did not lay out
    store, n = found
    return [*guarded("env.moved", check_moved, store, n, record), *guarded("env.live", check_live, store, record),
            *guarded("env.files", check_files, store, n, record)]


def locate(prefix: str | None) -> tuple[Store, int] | None:
    """(the store, the generation number) of the environment whose sys.prefix is `prefix`."""
    if not prefix:
        return None
    real = Path(os.path.realpath(prefix))
    gen, root = GEN_RE.match(real.name), _STORE_RE.match(real.parent.name)
    if not gen or not root:
        return None
    return Store(real.parent.parent / root.group(1)), int(gen.group(1))


def check_moved(store: Store, n: int, record: EnvRecord | None) -> Check:
    was = record.built_elsewhere(store.root) if record else None
    if was is None:
        return Check("env.moved", "ok", f"built where it is ({store.root})")
    old = was / f"gen-{n:04d}"
    return Check("env.moved", "error",
                 f"{store.target} was moved or copied from where it was built: its bin/activate and scripts still name {old}, "
                 "so they set that VIRTUAL_ENV and run that path's Python",
                 f"skyrl-setup install --force --venv {sh(store.target)} (builds it again where it is now)",
                 {"built_in": str(was), "now_in": str(store.root)})


def check_live(store: Store, record: EnvRecord | None) -> Check:
    cur = store.current()
    if cur is None:
        return Check("env.live", "skipped", f"{store.target} is not a link to a generation")
    order = store.live_numbers()
    wrong = []
    generation = record.generation if record else None
    if generation != cur:
        wrong.append(f"its record says generation {generation}")
    if record and not record.activated:
        wrong.append("its record is not marked live")
    if order and order[-1] != cur:
        wrong.append(f"the live order ({store.root / 'live'}) ends at generation {order[-1]}")
    if not wrong:
        return Check("env.live", "ok", f"the link, the record and the live order agree: generation {cur}")
    return Check("env.live", "warning", f"{store.target} links generation {cur}, but " + "; ".join(wrong)
                 + " (a run stopped right after its swap)",
                 f"skyrl-setup install --venv {sh(store.target)} records the linked generation as live (so does any upgrade or "
                 "rollback); rollback already goes by the link", {"link": cur, "record": generation, "live": order})


def check_files(store: Store, n: int, record: EnvRecord | None) -> Check:
    mode = (record.link_mode if record else None) or "hardlink (uv's default; not recorded)"
    found = edits_since_built(store.gen_path(n), record)
    if found is None:
        return Check("env.files", "skipped", "the record has no build time to judge edits by")
    details = {"link_mode": mode, "checked": found.checked, "hashed_bytes": found.hashed_bytes,
               "seconds": round(found.seconds, 3), "changed": [f"{d}: {p}" for d, p in found.files]}
    if not found.files:
        what = f"{found.checked} files shared with other generations or uv's cache" if found.checked else "no file is shared"
        return Check("env.files", "ok", f"{what}: none edited since the build (files linked as {mode})", details=details)
    pkgs = " ".join(found.packages)
    return Check("env.files", "error",
                 f"{len(found.files)} file(s) of generation {n} were edited in place since it was built: {found.sample()}; "
                 "they are hard links shared with other generations and uv's cache, which changed with them",
                 f"uv cache clean {pkgs}, then skyrl-setup install --force --venv {sh(store.target)}; to patch a package, "
                 "edit a copy (or build with UV_LINK_MODE=copy)", details)
