"""The environment record's schema (issue 26): a record written by main before the field existed still loads, as today's.

tests/data/record-schema1-3650332.json is the record main at 3650332 (2026-12-04) wrote for a real install of the
sglang profile against the test index: no `schema`, no `store`, no `link_mode`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skyrl_setup.errors import PreconditionError
from skyrl_setup.store import record as record_schema
from skyrl_setup.store.generations import RECORD, Store

OLD = Path(__file__).parent / "data" / "record-schema1-3650332.json"


def _store_with(tmp_path: Path, rec: dict, *, activate_names: Path | None = None) -> Store:
    """A store as install leaves it: .env.skyrl/gen-0001 with the record and uv's bin/activate, and the link."""
    store = Store(tmp_path / "env")
    gen = store.gen_path(1)
    (gen / "bin").mkdir(parents=True)
    (gen / RECORD).write_text(json.dumps(rec, indent=2, sort_keys=True))
    named = activate_names or gen
    (gen / "bin" / "activate").write_text(f"# uv's activate, the line it writes\nVIRTUAL_ENV='{named}'\nexport VIRTUAL_ENV\n")
    os.symlink(os.path.relpath(gen, store.target.parent), store.target)
    return store


def test_a_record_written_by_main_before_the_schema_loads_as_todays(tmp_path):
    old = json.loads(OLD.read_text())
    assert "schema" not in old and "store" not in old and "link_mode" not in old  # what that main wrote
    store = _store_with(tmp_path, old)
    rec = store.record()
    assert rec is not None and rec.to_json()["schema"] == record_schema.SCHEMA == 2
    assert rec.store == str(store.root) and rec.link_mode is None  # where it was built, from its bin/activate
    assert {k: v for k, v in rec.to_json().items() if k not in ("schema", "store", "link_mode")} == old  # nothing else changed
    assert store.activated(1) and rec.backend == "sglang" and rec.packages["torch"] == old["packages"]["torch"]
    assert rec.release == old["skyrl_release"] and rec.lock.sha256 == old["lock"]["sha256"] and rec.cuda.variant == old["cuda"]["variant"]


def test_a_moved_schema_1_store_keeps_the_place_it_was_built_in(tmp_path):
    built_in = tmp_path / "old" / ".env.skyrl"
    store = _store_with(tmp_path, json.loads(OLD.read_text()), activate_names=built_in / "gen-0001")
    assert store.record().store == str(built_in)  # so doctor's env.moved and rollback still see the move


def test_writing_gives_todays_schema_and_a_newer_one_is_refused(tmp_path):
    store = _store_with(tmp_path, json.loads(OLD.read_text()))
    store.mark_activated(1)  # activated already: nothing written
    assert "schema" not in json.loads((store.gen_path(1) / RECORD).read_text())
    store.write_record(1, store.record())
    assert json.loads((store.gen_path(1) / RECORD).read_text())["schema"] == 2
    newer = {**json.loads(OLD.read_text()), "schema": 3}
    (store.gen_path(1) / RECORD).write_text(json.dumps(newer))
    with pytest.raises(PreconditionError) as exc:
        store.record()
    assert "newer skyrl-setup" in exc.value.message and "schema 3" in exc.value.message and exc.value.hint


@pytest.mark.parametrize("bad", [{"schema": "2"}, {"schema": 0}, {"schema": True}, {"packages": []}, ["not", "a", "dict"],
                                 {"backend": None}, {"schema": 2, "store": None}])
def test_a_damaged_record_reads_as_none(tmp_path, bad):
    rec = {**json.loads(OLD.read_text()), **bad} if isinstance(bad, dict) else bad
    assert _store_with(tmp_path, rec).record() is None


def test_the_typed_record_round_trips_and_keeps_keys_it_does_not_read(tmp_path):
    """The record is a typed value; its file is written from it: what it read comes back as it was, unknown keys too."""
    old = json.loads(OLD.read_text())
    old = {**old, "schema": 2, "store": str(tmp_path / ".env.skyrl"), "link_mode": "clone", "a_key_of_a_later_minor": {"kept": True},
           "lock": {**old["lock"], "route": "pypi"}, "cuda": {**old["cuda"], "runtime": "12.8"}}
    rec = record_schema.load(old, tmp_path / "gen-0001")
    assert rec is not None and rec.to_json() == old
    again = rec.with_history({"action": "rollback", "generation": 1})
    assert again.history[-1] == {"action": "rollback", "generation": 1} and len(again.history) == len(rec.history) + 1
    assert rec.history == tuple(old["history"])  # frozen: the one it came from is unchanged


def test_a_record_from_before_releases_were_data_names_its_release_by_its_skyrl_lock(tmp_path):
    old = {k: v for k, v in json.loads(OLD.read_text()).items() if k != "skyrl_release"}
    old["skyrl_lock"] = {"skyrl-version": "0.3.0", "route": "pypi"}
    rec = _store_with(tmp_path, old).record()
    assert rec is not None and rec.release == "skyrl-train==0.3.0"
    assert record_schema.load({**old, "skyrl_lock": None}, tmp_path).release is None


def test_an_empty_or_storeless_record_in_an_old_generation_does_not_break_the_store(tmp_path):
    """A damaged record reads as no record: the store's bookkeeping (activated, previous, prune) walks every generation."""
    store = _store_with(tmp_path, {"tool": "skyrl-setup"})
    assert store.record() is None and not store.activated(1) and store.previous() is None
