"""Map upstream URLs (PyPI's files, PyTorch's index, GitHub release assets) to mirrors.

Sources, most specific first: --mirror FROM=TO flags, SKYRL_SETUP_MIRRORS ("FROM=TO"
pairs separated by spaces, commas or semicolons), then `[mirrors]` in
<user config dir>/skyrl-setup/mirrors.toml. The longest matching prefix wins. Lockfile
URLs are rewritten the same way; their hashes stay, so a mirror serving other bytes is
refused by uv.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from skyrl_setup import settings
from skyrl_setup._toml import toml_reader
from skyrl_setup.errors import PreconditionError, UsageError
from skyrl_setup.paths import user_dir
from skyrl_setup.redact import mark_url, redact


def config_path() -> Path | None:
    """None where no home directory is known: then there is no per-user mirrors file."""
    try:
        return user_dir("SKYRL_SETUP_CONFIG_DIR", "config", "the mirrors file") / "mirrors.toml"
    except PreconditionError:
        return None


# pairs are separated by whitespace, or by , ; where a new URL follows: a password may hold , ; or =
_PAIR_SEP = re.compile(r"\s+|[,;]+(?=\s*[a-zA-Z][a-zA-Z0-9+.-]*://)")
_URL_START = r"[a-zA-Z][a-zA-Z0-9+.-]*://"


def _parse_pair(text: str, where: str) -> tuple[str, str]:
    m = re.match(rf"^(.+?)=({_URL_START}.*)$", text)
    src, sep, dst = (m.group(1), "=", m.group(2)) if m else text.partition("=")
    if not sep or not src.strip() or not dst.strip():
        raise UsageError(f"{where}: {redact(text)!r} is not FROM=TO", "write mirrors as https://upstream/prefix=https://mirror/prefix")
    return mark_url(src.strip()), mark_url(dst.strip())


def split_pairs(text: str) -> list[str]:
    return [p for p in _PAIR_SEP.split(text) if p]


@dataclass(frozen=True)
class Mirrors:
    """Every FROM=TO pair in force, flags first: one value handed to whatever rewrites a URL."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def load(cls, flags: tuple[str, ...] | list[str] = ()) -> Mirrors:
        return cls(tuple(mapping(flags)))

    def rewrite(self, url: str) -> str:
        return rewrite(url, list(self.pairs))

    def rewrite_lock_text(self, text: str) -> str:
        return rewrite_lock_text(text, list(self.pairs))


def mapping(flags: tuple[str, ...] | list[str] = ()) -> list[tuple[str, str]]:
    pairs = [_parse_pair(p, "--mirror") for p in flags]
    env = settings.current().mirrors
    pairs += [_parse_pair(p, "SKYRL_SETUP_MIRRORS") for p in split_pairs(env)]
    cfg = config_path()
    if cfg is not None and cfg.is_file():
        try:
            doc = toml_reader.loads(cfg.read_text(encoding="utf-8"))
        except (OSError, toml_reader.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{cfg}: not valid TOML ({exc})", "fix or remove the mirrors file") from None
        table = doc.get("mirrors", {})
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise UsageError(f"{cfg}: [mirrors] must map URL prefixes to URL strings", "see README, 'Mirrors'")
        pairs += [(mark_url(k), mark_url(v)) for k, v in table.items()]
    return pairs


def rewrite(url: str, pairs: list[tuple[str, str]]) -> str:
    best = max((p for p in pairs if url.startswith(p[0])), key=lambda p: len(p[0]), default=None)
    return best[1] + url[len(best[0]):] if best else url


def rewrite_lock_text(text: str, pairs: list[tuple[str, str]]) -> str:
    """Rewrite every `url = "..."` in a pylock.toml."""
    return re.sub(r'(url = ")([^"]+)(")', lambda m: m.group(1) + rewrite(m.group(2), pairs) + m.group(3), text)
