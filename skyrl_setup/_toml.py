"""tomllib on 3.11+, tomli before."""

import sys

if sys.version_info >= (3, 11):
    import tomllib as toml_reader
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as toml_reader

__all__ = ["toml_reader"]
