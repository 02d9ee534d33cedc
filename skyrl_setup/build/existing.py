"""The environment an upgrade or a rollback acts on: where it is, that skyrl-setup made it, which backend it holds."""

from __future__ import annotations

from skyrl_setup.catalog import DEFAULT_BACKEND
from skyrl_setup.errors import UsageError
from skyrl_setup.humanize import sh
from skyrl_setup.store.generations import RECORD, Store
from skyrl_setup.store.record import EnvRecord


def store_for(venv: str | None, backend: str | None) -> Store:
    if venv is not None:
        return Store.for_target(venv)
    from skyrl_setup.paths import default_venv

    return Store.for_target(default_venv(backend or DEFAULT_BACKEND))


def no_env(store: Store, backend: str | None) -> UsageError:
    if (current := store.current()) is not None and (store.gen_path(current) / RECORD).is_file():
        return UsageError(f"the record of {store.target} ({store.gen_path(current) / RECORD}) is damaged",
                          f"rebuild it: skyrl-setup install --venv {sh(store.target)} --force, or roll back to an intact generation")
    return UsageError(f"no environment made by skyrl-setup at {store.target}",
                      f"create one first: skyrl-setup install --backend {backend or DEFAULT_BACKEND} --venv {sh(store.target)}")


def check_backend(store: Store, rec: EnvRecord, backend: str | None) -> None:
    if backend and backend != rec.backend:
        raise UsageError(f"{store.target} holds a {rec.backend} environment, not {backend}",
                         f"to switch backends: skyrl-setup install --backend {backend} --venv {sh(store.target)} --force")


def with_record(venv: str | None, backend: str | None) -> tuple[Store, EnvRecord]:
    store = store_for(venv, backend)
    rec = store.record()
    if rec is None:
        raise no_env(store, backend)
    check_backend(store, rec, backend)
    return store, rec
