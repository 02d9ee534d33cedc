"""Credentials for the tool's own HTTP requests, found as uv finds them.

uv sends an index URL's credentials to every URL on that host (its files sit under other paths,
often on the same mirror), and reads netrc (NETRC, else ~/.netrc) for a host none is given for.
A request that carries its own credentials, or an Authorization header, keeps them.
"""

from __future__ import annotations

import base64
import netrc
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx


def _realm(scheme: str, host: str, port: int | None) -> str:
    return f"{scheme}://{host}:{port or (443 if scheme == 'https' else 80)}"


class IndexAuth(httpx.Auth):
    def __init__(self, indexes=()):
        self.by_realm: dict[str, tuple[str, str]] = {}
        for url in indexes:
            parts = urlsplit(str(url))
            if parts.username and parts.hostname:
                self.by_realm.setdefault(_realm(parts.scheme, parts.hostname, parts.port),
                                         (unquote(parts.username), unquote(parts.password or "")))
        self._netrc: netrc.netrc | None | bool = False  # False: not read yet

    def _from_netrc(self, host: str) -> tuple[str, str] | None:
        if self._netrc is False:
            path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
            try:
                self._netrc = netrc.netrc(str(path)) if path.is_file() else None
            except (OSError, netrc.NetrcParseError):
                self._netrc = None
        found = self._netrc.authenticators(host) if self._netrc else None
        return (found[0] or "", found[2] or "") if found else None

    def credentials(self, url: httpx.URL) -> tuple[str, str] | None:
        if url.username:
            return unquote(url.username), unquote(url.password or "")
        return self.by_realm.get(_realm(url.scheme, url.host, url.port)) or self._from_netrc(url.host)

    def auth_flow(self, request: httpx.Request):
        if "Authorization" not in request.headers:
            found = self.credentials(request.url)
            if found:
                token = base64.b64encode(f"{found[0]}:{found[1]}".encode()).decode()
                request.headers["Authorization"] = f"Basic {token}"
        yield request


def for_configured(extra=()) -> IndexAuth:
    """The configured indexes' credentials (detect_index(): uv's settings, then pip's), with `extra` index URLs'."""
    from skyrl_setup.detect.index_config import detect_index

    return IndexAuth((*extra, *detect_index().indexes))
