"""Which package index the user already configured, the usual ways: uv's settings, then pip's.

uv's: UV_DEFAULT_INDEX / UV_INDEX_URL, UV_INDEX / UV_EXTRA_INDEX_URL, then its configuration
files (UV_CONFIG_FILE alone when set; else the project's uv.toml or pyproject.toml
[tool.uv] from the working directory up, the user's uv.toml, the system's), each as
`index-url`, `extra-index-url`, `[pip]` or `[[index]]`. pip's: PIP_INDEX_URL /
PIP_EXTRA_INDEX_URL, then pip.conf ([global], overridden by [install]) from the system's,
the user's and the active venv's files, with PIP_CONFIG_FILE last. The keyring provider is read the same
way, uv's first (`keyring-provider`; a pip setting is handed to uv as UV_KEYRING_PROVIDER). A detection: files and
environment only, no network, never raises. The URLs may hold credentials: show them only
as Secrets (marked as they enter, below).
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from skyrl_setup._toml import toml_reader
from skyrl_setup.redact import mark_url, redact

PYPI_HOSTS = ("pypi.org", "pypi.python.org", "files.pythonhosted.org")
EXTRA_INDEX_VARIABLES = ("UV_INDEX", "UV_EXTRA_INDEX_URL", "PIP_EXTRA_INDEX_URL")


@dataclass(frozen=True)
class IndexConfig:
    default: str | None = None  # the index that replaces PyPI, if any (may hold credentials)
    extra: tuple[str, ...] = ()  # further indexes (a PyTorch mirror, say)
    source: str = ""  # where it was found: "UV_INDEX_URL", "pip.conf (/etc/pip.conf)", ...
    tool: str = ""  # "uv" (uv reads it itself) or "pip" (skyrl-setup hands it to uv)
    keyring: str = ""  # the keyring provider configured ("subprocess", "disabled", ...; "" for none)
    keyring_from: str = ""  # "uv" (its variable or configuration files) or "pip"

    def __post_init__(self):  # an index URL with credentials is a Secret from here on
        object.__setattr__(self, "default", mark_url(self.default) if self.default else self.default)
        object.__setattr__(self, "extra", tuple(mark_url(u) for u in self.extra))

    @property
    def custom(self) -> bool:
        """An index other than PyPI is configured: locked files are fetched through it by name."""
        return any(not is_pypi(u) for u in ((self.default,) if self.default else ()) + self.extra)

    @property
    def uses_keyring(self) -> bool:
        """Passwords come from the `keyring` command: uv's `subprocess` provider; pip's `import` too, whose library is
        the command's (pip's `auto` asks only when it may prompt, which never happens here)."""
        return self.keyring == "subprocess" or (self.keyring == "import" and self.keyring_from == "pip")

    @property
    def indexes(self) -> tuple[str, ...]:
        return ((self.default,) if self.default else ()) + self.extra

    def shown(self) -> str:
        return redact(self.default) if self.default else "PyPI (https://pypi.org/simple)"

    def uv_env(self) -> dict[str, str]:
        """What uv must be told: nothing when the setting is uv's own; pip's settings otherwise."""
        env = {"UV_KEYRING_PROVIDER": "subprocess"} if self.uses_keyring and self.keyring_from == "pip" else {}
        if self.tool != "pip":
            return env
        env.update({"UV_DEFAULT_INDEX": self.default} if self.default else {})
        if self.extra:
            env["UV_INDEX"] = " ".join(self.extra)
        return env

    def to_json(self) -> dict:
        return {"default": redact(self.default) if self.default else None, "extra": [redact(u) for u in self.extra],
                "source": self.source, "custom": self.custom, "keyring": self.uses_keyring}


def is_pypi(url: str) -> bool:
    return (urlsplit(url).hostname or "") in PYPI_HOSTS


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, without credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _split(value: str) -> list[str]:
    # UV_INDEX entries may be named ("name=https://..."); a URL's own '=' comes after its "://"
    return [re.sub(r"^[A-Za-z0-9_.-]+=(?=\w+://)", "", v) for v in value.split() if v]


def _from_env(env: dict[str, str], default_keys: tuple[str, ...], extra_keys: tuple[str, ...], tool: str) -> IndexConfig | None:
    default = next(((k, env[k].strip()) for k in default_keys if env.get(k, "").strip()), None)
    extra = [u for k in extra_keys for u in _split(env.get(k, ""))]
    if not default and not extra:
        return None
    source = default[0] if default else next(k for k in extra_keys if env.get(k, "").strip())
    return IndexConfig(default[1] if default else None, tuple(extra), source, tool)


def _uv_table(path: Path) -> dict | None:
    try:
        doc = toml_reader.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, toml_reader.TOMLDecodeError):
        return None
    if path.name == "pyproject.toml":
        doc = (doc.get("tool") or {}).get("uv")
        return doc if isinstance(doc, dict) else None
    return doc


def _from_uv_table(doc: dict, where: str) -> IndexConfig | None:
    pip_table = doc.get("pip")
    pip: dict = pip_table if isinstance(pip_table, dict) else {}
    default = doc.get("index-url") or pip.get("index-url")
    extra = list(doc.get("extra-index-url") or pip.get("extra-index-url") or [])
    for entry in doc.get("index") or []:
        if isinstance(entry, dict) and isinstance(entry.get("url"), str) and not entry.get("explicit"):
            if entry.get("default"):
                default = default or entry["url"]
            else:
                extra.append(entry["url"])
    extra = [u for u in extra if isinstance(u, str)]
    if not isinstance(default, str):
        default = None
    if not default and not extra:
        return None
    return IndexConfig(default, tuple(extra), where, "uv")


def _uv_files(env: dict[str, str], cwd: Path) -> list[Path]:
    if env.get("UV_NO_CONFIG", "").strip().lower() in ("1", "true", "yes", "on"):
        return []
    if env.get("UV_CONFIG_FILE"):
        return [Path(env["UV_CONFIG_FILE"])]
    files: list[Path] = []
    for d in (cwd, *cwd.parents):  # the nearest project with uv settings: its uv.toml wins over its pyproject.toml
        found = [d / n for n in ("uv.toml", "pyproject.toml") if (d / n).is_file() and _uv_table(d / n) is not None]
        if found:
            files.append(found[0])
            break
    xdg = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", str(Path.home()))) / ".config")
    files.append(Path(xdg) / "uv" / "uv.toml")
    for xdg_dir in (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":"):
        files.append(Path(xdg_dir) / "uv" / "uv.toml")
    files.append(Path("/etc/uv/uv.toml"))
    return files


def _pip_files(env: dict[str, str]) -> list[Path]:
    """Lowest priority first, as pip loads them."""
    if env.get("PIP_CONFIG_FILE") == os.devnull:
        return []
    home = Path(env.get("HOME", str(Path.home())))
    xdg = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    files = [Path(d) / "pip" / "pip.conf" for d in (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")]
    files += [Path("/etc/pip.conf"), home / ".pip" / "pip.conf", Path(xdg) / "pip" / "pip.conf"]
    if env.get("VIRTUAL_ENV"):
        files.append(Path(env["VIRTUAL_ENV"]) / "pip.conf")
    if env.get("PIP_CONFIG_FILE"):
        files.append(Path(env["PIP_CONFIG_FILE"]))
    return files


def _pip_options(files: list[Path], names: tuple[str, ...]):
    """(file, option, value) for each of `names` set in [global] or [install] of the readable pip.conf `files`, in
    pip's order (a later file or section wins)."""
    for path in files:
        parser = configparser.RawConfigParser()
        try:
            if not path.is_file() or not parser.read(path, encoding="utf-8"):
                continue
        except (OSError, configparser.Error, UnicodeDecodeError):
            continue
        for section in ("global", "install"):
            for name in names:
                if parser.has_option(section, name):
                    yield path, name, parser.get(section, name)


def _from_pip_files(files: list[Path]) -> IndexConfig | None:
    default = extra = None
    where = ""
    for path, name, value in _pip_options(files, ("index-url", "extra-index-url")):
        if name == "index-url":
            default, where = value.strip(), f"pip.conf ({path})"
        else:
            extra, where = value, where or f"pip.conf ({path})"
    if not default and not extra:
        return None
    return IndexConfig(default or None, tuple(_split(extra or "")), where, "pip")


@dataclass(frozen=True)
class DefaultOnly:
    """How uv reads the default index alone (PyPI, or the mirror that replaces it): the variables to set and to hide,
    and, where uv's configuration files add indexes, the one file to read instead: theirs merged, less those."""
    env: dict[str, str]
    hide: tuple[str, ...]
    config: str | None = None  # uv.toml text for UV_CONFIG_FILE


_ADDED = ("extra-index-url", "find-links")  # what adds to the default index, besides its non-default [[index]] entries


def default_only(env: dict[str, str] | None = None, cwd: Path | None = None) -> DefaultOnly:
    """For what is resolved "from PyPI": an extra index a user configured (a PyTorch mirror) would hand it torch's
    +cuXXX build. uv adds the indexes of its configuration files to those of its variables, so they are taken
    out of both; every other setting of the files (native-tls, allow-insecure-host, cache-dir, a named default
    index's credentials) stays."""
    env = dict(os.environ) if env is None else env
    cfg = _indexes(env, cwd or Path.cwd())
    docs = [doc for p in _uv_files(env, cwd or Path.cwd()) if p.is_file() and (doc := _uv_table(p)) is not None]
    set_env = {"UV_DEFAULT_INDEX": cfg.default} if cfg.tool == "pip" and cfg.default else {}
    if cfg.tool == "pip" and cfg.keyring_from == "pip" and cfg.uses_keyring:
        set_env["UV_KEYRING_PROVIDER"] = "subprocess"
    hide = EXTRA_INDEX_VARIABLES + ("UV_FIND_LINKS",)
    if not any(_adds(doc) for doc in docs):
        return DefaultOnly(set_env, hide)
    return DefaultOnly(set_env, hide + ("UV_CONFIG_FILE",), _merged_without_added(docs))


def _adds(doc: dict) -> bool:
    pip_table = doc.get("pip")
    pip: dict = pip_table if isinstance(pip_table, dict) else {}
    return any(doc.get(k) or pip.get(k) for k in _ADDED) or any(
        isinstance(e, dict) and not e.get("default") and not e.get("explicit") for e in doc.get("index") or [])


def _merged_without_added(docs: list[dict]) -> str:
    """The files' settings as uv merges them (the nearest file's value of a key wins), less what adds indexes."""
    import tomlkit

    merged: dict = {}
    for doc in docs:
        for key, value in doc.items():
            if key in _ADDED:
                continue
            if key == "index":
                value = [e for e in value if isinstance(e, dict) and (e.get("default") or e.get("explicit"))]
                merged["index"] = merged.get("index", []) + [e for e in value if e.get("name") not in
                                                             {m.get("name") for m in merged.get("index", [])}]
            elif key == "pip" and isinstance(value, dict):
                pip = merged.setdefault("pip", {})
                for k, v in value.items():
                    if k not in _ADDED:
                        pip.setdefault(k, v)
            else:
                merged.setdefault(key, value)
    return tomlkit.dumps(merged)


def detect_index(env: dict[str, str] | None = None, cwd: Path | None = None) -> IndexConfig:
    """The configured index: uv's settings first, then pip's; an empty IndexConfig means PyPI."""
    env = dict(os.environ) if env is None else env
    cwd = cwd or Path.cwd()
    found = _indexes(env, cwd)
    provider, where = _keyring_provider(env, cwd)
    return replace(found, keyring=provider, keyring_from=where) if provider else found


def _keyring_provider(env: dict[str, str], cwd: Path) -> tuple[str, str]:
    """uv's keyring-provider (UV_KEYRING_PROVIDER, then its configuration files, nearest first), else pip's
    (PIP_KEYRING_PROVIDER, then pip.conf, the last file that sets it)."""
    if env.get("UV_KEYRING_PROVIDER", "").strip():
        return env["UV_KEYRING_PROVIDER"].strip().lower(), "uv"
    for path in _uv_files(env, cwd):
        doc = _uv_table(path) if path.is_file() else None
        pip_table = (doc or {}).get("pip")
        pip: dict = pip_table if isinstance(pip_table, dict) else {}
        value = (doc or {}).get("keyring-provider") or pip.get("keyring-provider")
        if isinstance(value, str) and value.strip():
            return value.strip().lower(), "uv"
    if env.get("PIP_KEYRING_PROVIDER", "").strip():
        return env["PIP_KEYRING_PROVIDER"].strip().lower(), "pip"
    value = ""
    for _, _, found in _pip_options(_pip_files(env), ("keyring-provider",)):
        value = found.strip().lower() or value
    return (value, "pip") if value else ("", "")


def _indexes(env: dict[str, str], cwd: Path) -> IndexConfig:
    found = _from_env(env, ("UV_DEFAULT_INDEX", "UV_INDEX_URL"), ("UV_INDEX", "UV_EXTRA_INDEX_URL"), "uv")
    if found:
        return found
    for path in _uv_files(env, cwd):
        doc = _uv_table(path) if path.is_file() else None
        found = _from_uv_table(doc, f"{path.name} ({path})") if doc else None
        if found:
            return found
    found = _from_env(env, ("PIP_INDEX_URL",), ("PIP_EXTRA_INDEX_URL",), "pip")
    return found or _from_pip_files(_pip_files(env)) or IndexConfig()
