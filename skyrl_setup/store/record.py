"""The environment record (`skyrl-setup.json` in each generation): its schema version, and the migration that lets a
record written by an earlier skyrl-setup load as today's.

Like pipx's versioned venv metadata: every record carries `schema`; one reader, `load`, brings an older record up
to SCHEMA in memory (the file takes today's schema the next time the tool writes it), and refuses a record from a
newer skyrl-setup rather than guessing at fields it does not know.
"""

from __future__ import annotations

from pathlib import Path

from skyrl_setup.errors import PreconditionError

SCHEMA = 2
# 1: no `schema` field (every record up to 2026-12-04): `store` and `link_mode` may be missing.
# 2: `schema`; `store` (the store the generation was built in) always set; `link_mode` null where not recorded.

_KINDS = {"lock": dict, "python": dict, "cuda": dict, "packages": dict, "env": dict, "history": list,
          "artifacts": list, "additions": list, "backend": str}


def stamp(record: dict) -> dict:
    """A record about to be written: with today's schema."""
    return {**record, "schema": SCHEMA}


def load(raw: object, gen: Path) -> dict | None:
    """The record of generation `gen` as today's schema; None where it is not a record this tool wrote (damaged)."""
    if not isinstance(raw, dict) or not all(isinstance(raw[k], t) for k, t in _KINDS.items() if k in raw):
        return None
    schema = raw.get("schema", 1)
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        return None
    if schema > SCHEMA:
        raise PreconditionError(f"{gen / 'skyrl-setup.json'} was written by a newer skyrl-setup (record schema {schema}; "
                                f"this one reads up to {SCHEMA})", "upgrade skyrl-setup, or use the one that built it")
    rec = dict(raw)
    if schema < 2:
        rec = _from_1(rec, gen)
    return rec


def _from_1(rec: dict, gen: Path) -> dict:
    """Schema 1 kept no store: the store is the one the generation's bin/activate names (where the venv was made)."""
    from skyrl_setup.store.venvinfo import activate_names

    if not isinstance(rec.get("store"), str):
        named = activate_names(gen)
        rec["store"] = str(named.parent) if named else str(gen.parent)
    rec.setdefault("link_mode", None)
    rec["schema"] = 2
    return rec
