"""Credentials for the tool's own HTTP requests, found as uv finds them.

uv sends an index URL's credentials to every URL on that host (its files sit under other paths,
often on the same mirror), and reads netrc (NETRC, else ~/.netrc) for a host none is given for.
With its keyring provider `subprocess` (UV_KEYRING_PROVIDER, uv.toml; pip's keyring-provider
likewise), the password of a username given without one comes from `keyring get SERVICE USERNAME`,
the service being the index URL, then the host (host:port). A request that carries its own
credentials, or an Authorization header, keeps them.
"""

from __future__ import annotations

import base64
import netrc
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from skyrl_setup import proc as children

# a keyring backend that waits for an unlock prompt nobody can answer here must not hold a plan
KEYRING_TIMEOUT = 10.0
_asked: dict[tuple[str, str], str | None] = {}  # (service, username) -> password: one `keyring` run per process
_asked_lock = threading.Lock()


def _realm(scheme: str, host: str, port: int | None) -> str:
    return f"{scheme}://{host}:{port or (443 if scheme == 'https' else 80)}"


def keyring_password(services: list[str], username: str) -> str | None:
    """The first password the `keyring` command on PATH gives for `username` at one of `services`, in order."""
    exe = shutil.which("keyring")
    if not exe:
        return None
    with _asked_lock:
        for service in services:
            if (service, username) not in _asked:
                try:
                    res = children.run([exe, "get", service, username], timeout=KEYRING_TIMEOUT)
                    password = res.stdout.rstrip("\r\n") if res.returncode == 0 else ""
                    _asked[(service, username)] = password or None
                except (OSError, subprocess.SubprocessError):
                    _asked[(service, username)] = None
            if _asked[(service, username)]:
                return _asked[(service, username)]
    return None


class IndexAuth(httpx.Auth):
    def __init__(self, indexes=(), keyring: bool | None = None):
        """`keyring`: whether passwords may come from the `keyring` command; None: as configured (detect_index)."""
        self.by_realm: dict[str, tuple[str, str]] = {}
        self.services: dict[str, list[str]] = {}  # realm -> its configured index URLs, without credentials
        for url in indexes:
            parts = urlsplit(str(url))
            if not parts.hostname:
                continue
            realm = _realm(parts.scheme, parts.hostname, parts.port)
            self.services.setdefault(realm, []).append(urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])))
            if parts.username:
                self.by_realm.setdefault(realm, (unquote(parts.username), unquote(parts.password or "")))
        self._netrc: netrc.netrc | None | Literal[False] = False  # False: not read yet
        self._keyring = keyring
        self._lock = threading.Lock()

    def _from_netrc(self, host: str) -> tuple[str, str] | None:
        if self._netrc is False:
            path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
            try:
                self._netrc = netrc.netrc(str(path)) if path.is_file() else None
            except (OSError, netrc.NetrcParseError):
                self._netrc = None
        found = self._netrc.authenticators(host) if self._netrc else None
        return (found[0] or "", found[2] or "") if found else None

    def _uses_keyring(self) -> bool:
        if self._keyring is None:
            from skyrl_setup.detect.index_config import detect_index

            self._keyring = detect_index().uses_keyring
        return self._keyring

    def _password(self, url: httpx.URL, realm: str, username: str) -> str:
        """A username without a password: netrc's for that login, else the keyring's (as uv looks)."""
        found = self._from_netrc(url.host)
        if found and found[0] == username and found[1]:
            return found[1]
        if not self._uses_keyring():
            return ""
        host = f"{url.host}:{url.port}" if url.port else url.host
        return keyring_password([*self.services.get(realm, []), host], username) or ""

    def credentials(self, url: httpx.URL) -> tuple[str, str] | None:
        realm = _realm(url.scheme, url.host, url.port)
        with self._lock:
            found = (unquote(url.username), unquote(url.password or "")) if url.username else self.by_realm.get(realm)
            if found and found[0] and not found[1]:
                found = (found[0], self._password(url, realm, found[0]))
                if found[1] and self.by_realm.get(realm, found)[0] == found[0]:
                    self.by_realm[realm] = found  # the host's files are sent it too, as the index's
        return found or self._from_netrc(url.host)

    def auth_flow(self, request: httpx.Request):
        if "Authorization" not in request.headers:
            found = self.credentials(request.url)
            if found:
                token = base64.b64encode(f"{found[0]}:{found[1]}".encode()).decode()
                request.headers["Authorization"] = f"Basic {token}"
        yield request


def for_configured(extra=()) -> IndexAuth:
    """The configured indexes' credentials (detect_index(): uv's settings, then pip's), with `extra` index URLs',
    and its keyring provider."""
    from skyrl_setup.detect.index_config import detect_index

    cfg = detect_index()
    return IndexAuth((*extra, *cfg.indexes), keyring=cfg.uses_keyring)
