"""Read package indexes over HTTP: project pages and per-file metadata, cached on disk."""

from __future__ import annotations

import email.parser
import hashlib
import html.parser
import io
import json
import os
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from skyrl_setup import settings
from skyrl_setup.errors import OperationError
from skyrl_setup.paths import user_dir
from skyrl_setup.redact import redact
from skyrl_setup.resolver.auth import for_configured
from skyrl_setup.resolver.localfiles import local_response

JSON_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


@dataclass(frozen=True)
class FileLink:
    filename: str
    url: str
    version: Version
    sha256: str | None
    requires_python: str | None
    upload_time: str | None
    has_metadata: bool  # PEP 658 / 714: a .metadata file sits next to it
    tags: frozenset | None  # wheel tags; None for an sdist


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs))


def page_url(index: str, project: str) -> str:
    """index + project/, with the index's query (?token=...) kept after the path, where it belongs."""
    parts = urlsplit(index)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + f"/{project}/"))


def cache_root() -> Path:
    return user_dir("SKYRL_SETUP_CACHE_DIR", "cache", "the package index cache") / "index"


def page_ttl() -> float:
    """Seconds a cached answer of an index (a page, a host's reachability) is trusted."""
    return settings.current().index_ttl


class IndexClient:
    def __init__(self, indexes: list[str], *, ttl: float | None = None, timeout: float = 15.0):
        self.indexes = list(indexes)
        self.ttl = page_ttl() if ttl is None else ttl
        self.http = httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": "skyrl-setup"},
                                 auth=for_configured(self.indexes))
        self.root = cache_root()
        self.requests = 0  # network requests made: the tests and the benchmark read it

    def close(self) -> None:
        self.http.close()

    # -- HTTP with one clear error ----------------------------------------------------------
    def _get(self, url: str, headers: dict | None = None) -> httpx.Response:
        self.requests += 1
        if url.startswith("file:"):  # a local folder given as an index (pip.conf, uv)
            return local_response(url)
        try:
            r = self.http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise OperationError(f"cannot reach the package index at {redact(url)}: {type(exc).__name__}: {redact(str(exc)) or 'no answer'}",
                                 "check the network, UV_INDEX_URL and your mirror settings; cached metadata is used when present") from None
        if r.status_code >= 400 and r.status_code != 404:
            raise OperationError(f"the package index answered HTTP {r.status_code} for {redact(url)}",
                                 "the index may be down; try again, or point UV_INDEX_URL at a mirror")
        return r

    def _cache(self, kind: str, key: str) -> Path:
        return self.root / kind / hashlib.sha256(key.encode()).hexdigest()

    # -- project pages ------------------------------------------------------------------------
    def files(self, project: str) -> list[FileLink]:
        out: list[FileLink] = []
        for index in self.indexes:
            out += self._page(index, canonicalize_name(project))
        return out

    def _page(self, index: str, project: str) -> list[FileLink]:
        url = page_url(index, project)
        path = self._cache("pages", url)
        if path.is_file() and time.time() - path.stat().st_mtime < self.ttl:
            try:
                return [self._link_from_json(d) for d in json.loads(path.read_text())]
            except (ValueError, KeyError):
                pass
        r = self._get(url, {"Accept": JSON_ACCEPT})
        if r.status_code == 404:
            items = []
        else:
            try:
                items = parse_page(r, url)
            except (ValueError, KeyError, TypeError) as exc:
                raise OperationError(f"the package index sent a malformed page for {project} at {redact(url)} ({type(exc).__name__})",
                                     "the index or a proxy is broken; try again or use another index") from None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(items))
        os.replace(tmp, path)
        return [self._link_from_json(d) for d in items]

    @staticmethod
    def _link_from_json(d: dict) -> FileLink:
        version, tags = _version_of(d["filename"])
        return FileLink(d["filename"], d["url"], version, d.get("sha256"), d.get("requires_python"),
                        d.get("upload_time"), d.get("has_metadata", False), tags)

    # -- metadata ------------------------------------------------------------------------------
    def metadata(self, link: FileLink) -> email.message.Message:
        key = link.sha256 or link.url
        path = self._cache("metadata", key)
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
        else:
            text = self._fetch_metadata(link)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        return email.parser.HeaderParser().parsestr(text)

    def _fetch_metadata(self, link: FileLink) -> str:
        if link.has_metadata:
            r = self._get(link.url + ".metadata")
            if r.status_code == 200:
                return r.text
        if link.tags is None:
            return f"Name: {link.filename}\n"  # an sdist: its dependencies are unknown without a build
        return self._metadata_by_range(link)

    def _metadata_by_range(self, link: FileLink) -> str:
        """Read only the wheel's central directory and its METADATA member, with Range requests."""
        r = self._get(link.url, {"Range": f"bytes=-{_RangeFile.CHUNK}"})
        if r.status_code == 200:  # no range support: we have the whole file
            return _metadata_from_zip(io.BytesIO(r.content), link.url)
        if r.status_code != 206:
            raise OperationError(f"cannot read {redact(link.url)} (HTTP {r.status_code})", "check the index")
        return _metadata_from_zip(_RangeFile(self._get, link.url, r), link.url)


class _RangeFile(io.RawIOBase):
    """A remote file zipfile reads as a local one, its ZIP64 records too: a read fetches the bytes not yet here with
    one Range request (pip's LazyZipOverHTTP does the same)."""

    CHUNK = 65536  # what a read fetches at least: the end records and central directory, or one METADATA, in one request

    def __init__(self, get: Callable[[str, dict], httpx.Response], url: str, tail: httpx.Response):
        super().__init__()
        self._get, self._url = get, url
        self._size = int(tail.headers["content-range"].rsplit("/", 1)[1])
        self._spans = [(self._size - len(tail.content), tail.content)]  # (offset, bytes) fetched so far
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        pos = offset + {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def readinto(self, buffer) -> int:
        end = min(self._size, self._pos + len(buffer))
        if self._pos >= end:
            return 0
        data = self._bytes(self._pos, end)
        buffer[: len(data)] = data
        self._pos = end
        return len(data)

    def _bytes(self, start: int, end: int) -> bytes:
        for offset, data in self._spans:
            if offset <= start and end <= offset + len(data):
                return data[start - offset : end - offset]
        stop = min(self._size, max(end, start + self.CHUNK))
        r = self._get(self._url, {"Range": f"bytes={start}-{stop - 1}"})
        if r.status_code == 200 and len(r.content) == self._size:  # the server stopped honouring ranges: it sent it all
            self._spans.append((0, r.content))
        elif r.status_code == 206 and r.headers.get("content-range", "").startswith(f"bytes {start}-") and len(r.content) == stop - start:
            self._spans.append((start, r.content))
        else:
            raise OperationError(f"cannot read bytes {start}-{stop - 1} of {redact(self._url)} (HTTP {r.status_code})",
                                 "the index or a proxy answers Range requests wrongly; try again or use another index")
        return self._bytes(start, end)


def parse_page(r: httpx.Response, url: str) -> list[dict]:
    """A project page's files (PEP 691 JSON or PEP 503 HTML), yanked ones left out, as the page cache keeps them."""
    items = []
    if "json" in r.headers.get("content-type", ""):
        for f in r.json()["files"]:
            meta = f.get("core-metadata", f.get("dist-info-metadata", False))
            items.append({"filename": f["filename"], "url": urljoin(url, f["url"]), "sha256": (f.get("hashes") or {}).get("sha256"),
                          "requires_python": f.get("requires-python"), "upload_time": f.get("upload-time"),
                          "has_metadata": bool(meta), "yanked": bool(f.get("yanked"))})
    else:
        parser = _Links()
        parser.feed(r.text)
        for a in parser.links:
            href = urljoin(url, a.get("href", ""))
            frag = urlsplit(href).fragment
            meta = a.get("data-core-metadata", a.get("data-dist-info-metadata"))
            # PyTorch's index writes a local version's '+' as %2B in its links
            items.append({"filename": unquote(urlsplit(href).path.rsplit("/", 1)[-1]), "url": href.split("#")[0],
                          "sha256": frag[7:] if frag.startswith("sha256=") else None,
                          "requires_python": a.get("data-requires-python"), "upload_time": None,
                          "has_metadata": meta is not None and meta != "false", "yanked": "data-yanked" in a})
    return [i for i in items if not i.pop("yanked") and _version_of(i["filename"]) is not None]


def _metadata_from_zip(file: io.BytesIO | _RangeFile, url: str) -> str:
    try:
        with zipfile.ZipFile(file) as zf:
            name = next((n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
            if name is None:
                raise OperationError(f"{redact(url)} has no .dist-info/METADATA", "the wheel is malformed")
            return zf.read(name).decode("utf-8", "replace")
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise OperationError(f"{redact(url)} is not a readable wheel ({type(exc).__name__})", "the file is truncated or corrupt") from None


def _version_of(filename: str):
    try:
        if filename.endswith(".whl"):
            _, version, _, tags = parse_wheel_filename(filename)
            return version, frozenset(tags)
        if filename.endswith((".tar.gz", ".zip")):
            _, version = parse_sdist_filename(filename)
            return version, None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None
