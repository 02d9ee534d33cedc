"""tomllib on 3.11+, tomli before; and the one read of a data file (a release, a profile) that fails as one line."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib as toml_reader
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as toml_reader

__all__ = ["TableReader", "read_toml", "toml_reader"]


def read_toml(path: Path, error: type[Exception]) -> dict:
    """The file's tables; an unreadable or malformed file is `error(message, hint)` naming the file."""
    try:
        return toml_reader.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})", "check the file's path and permissions") from exc
    except (toml_reader.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not valid TOML ({exc})", "fix the syntax at the position named") from exc


class TableReader:
    """Typed access to a TOML table that fails as `error("file: key 'a.b': reason", hint)`."""

    def __init__(self, raw: dict, path: Path, error: type[Exception], hint: str):
        self.raw, self.path, self.error, self.hint = raw, path, error, hint

    def fail(self, key: str, reason: str) -> Exception:
        return self.error(f"{self.path}: key {key!r}: {reason}", self.hint)

    def get(self, key: str, kind: type | tuple, default=...):
        node = self.raw
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is ...:
                    raise self.fail(key, "missing")
                return default
            node = node[part]
        if not isinstance(node, kind) or (kind is not bool and isinstance(node, bool)):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(key, f"expected {names}, found {type(node).__name__}")
        return node

    def str_list(self, key: str, default=()) -> tuple[str, ...]:
        items = self.get(key, list, list(default))
        if not all(isinstance(i, str) for i in items):
            raise self.fail(key, "expected a list of strings")
        return tuple(items)

    def str_table(self, key: str) -> dict[str, str]:
        table = self.get(key, dict, {})
        for k, v in table.items():
            if not isinstance(v, str):
                raise self.fail(f"{key}.{k}", f"expected a string, found {type(v).__name__}")
        return dict(table)
