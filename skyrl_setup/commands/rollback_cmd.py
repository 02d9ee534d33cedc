"""`skyrl-setup rollback`: point an environment back at its previous generation."""

from __future__ import annotations

from skyrl_setup.build.existing import check_backend, no_env, store_for
from skyrl_setup.commands.requests import RollbackRequest
from skyrl_setup.commands.results import Result
from skyrl_setup.commands.shapes import RollbackData
from skyrl_setup.commands.ui import UI
from skyrl_setup.errors import OperationError
from skyrl_setup.failpoints import hit
from skyrl_setup.humanize import sh
from skyrl_setup.store.generations import Store, now_iso
from skyrl_setup.store.record import EnvRecord
from skyrl_setup.store.sharing import edits_since_built


def run(req: RollbackRequest, ui: UI) -> Result:
    store = store_for(req.venv, req.backend)  # the current generation may be gone or damaged: that is when rollback is needed
    if not store.root.is_dir():  # before the lock, which would make the store and the folders above it
        raise no_env(store, req.backend)
    with store.locked(wait=req.wait):
        cur, prev = store.current(), store.previous()
        if prev is None:
            raise _no_earlier(store, cur, req.backend)
        old = store.record(prev)
        if old is None:  # previous() counts only generations whose record reads: changed under the lock's feet
            raise OperationError(f"the record of generation {prev} of {store.target} cannot be read", "see `skyrl-setup doctor`")
        check_backend(store, store.record() or old, req.backend)
        _check_intact(store, prev, old)
        store.note_rollback(prev)
        store.swap_to(prev)
        hit("rollback-swapped")
        store.commit(prev, record=old.with_history({"time": now_iso(), "action": "rollback", "generation": prev,
                                                     "from_generation": cur}))
    return Result("rollback", RollbackData(venv=str(store.target), generation=prev, previous_generation=cur, backend=old.backend,
                                           lock_sha256=old.lock.sha256))


def _check_intact(store: Store, n: int, rec: EnvRecord) -> None:
    """Go back only to the environment that was verified: one built in this store, whose shared files nobody edited."""
    was = rec.built_elsewhere(store.root)
    if was is not None:
        raise OperationError(f"generation {n} of {store.target} was built in {was}: its bin/activate and scripts name "
                             f"{was / store.gen_path(n).name}, so it cannot run from {store.root}",
                             f"build one here instead: skyrl-setup install --force --venv {sh(store.target)}")
    found = edits_since_built(store.gen_path(n), rec)
    if found and found.files:
        raise OperationError(f"generation {n} of {store.target} was changed after it was built: {len(found.files)} file(s) "
                             f"differ from their package's RECORD ({found.sample()}); they are hard links shared with other "
                             "generations and uv's cache, so an edit made elsewhere reached it; nothing was rolled back",
                             f"restore those files, or build afresh: uv cache clean {' '.join(found.packages)}, then "
                             f"skyrl-setup install --force --venv {sh(store.target)}",
                             details={"changed": [f"{d}: {p}" for d, p in found.files]})


def _no_earlier(store: Store, cur: int | None, backend: str | None) -> Exception:
    intact = [g for g in store.generations() if store.complete(g) and store.activated(g)]
    if not intact:
        return no_env(store, backend)
    newer = [g for g in intact if g != cur]
    if newer:
        return OperationError(f"generation {cur} of {store.target} is the earliest still kept: nothing to roll back to",
                              f"the other kept generations ({', '.join(map(str, newer))}) were live after it and were rolled back; "
                              "`skyrl-setup upgrade` or `install --force` builds a new one")
    return OperationError(f"{store.target} has no earlier generation to roll back to",
                          "generations are kept by install --force and upgrade; this environment has only one")
