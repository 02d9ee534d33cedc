"""`file://` URLs for the tool's own reads of an index: an index or a file in a local folder, as pip.conf and uv
accept them (httpx has no scheme for them). A folder answers with its index.html (PEP 503's layout on disk);
anything missing is a 404."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx


def local_path(url: str) -> Path:
    return Path(unquote(urlsplit(url).path))


def local_response(url: str) -> httpx.Response:
    path = local_path(url)
    if path.is_dir():
        path = path / "index.html"
    if not path.is_file():
        return httpx.Response(404)
    kind = "text/html" if path.suffix == ".html" else "application/octet-stream"
    return httpx.Response(200, headers={"content-type": kind}, content=path.read_bytes())
