"""Read package indexes over HTTP: project pages and per-file metadata, cached on disk."""

from __future__ import annotations

import email.parser
import hashlib
import html.parser
import io
import json
import os
import struct
import time
import zipfile
import zlib
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
        r = self._get(link.url, {"Range": "bytes=-65536"})
        if r.status_code == 200:  # no range support: we have the whole file
            return _metadata_from_zip(r.content, link.url)
        if r.status_code != 206:
            raise OperationError(f"cannot read {redact(link.url)} (HTTP {r.status_code})", "check the index")
        total = int(r.headers["content-range"].rsplit("/", 1)[1])
        tail, tail_start = r.content, total - len(r.content)
        eocd = tail.rfind(b"PK\x05\x06")
        if eocd < 0:
            raise OperationError(f"{redact(link.url)} is not a zip file (no central directory)", "the file is truncated or corrupt")
        cd_size, cd_offset = struct.unpack("<II", tail[eocd + 12 : eocd + 20])
        if cd_offset < tail_start:
            cd = self._get(link.url, {"Range": f"bytes={cd_offset}-{cd_offset + cd_size - 1}"}).content
        else:
            cd = tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
        pos = 0
        while pos + 46 <= len(cd) and cd[pos : pos + 4] == b"PK\x01\x02":
            method, _, _, _, csize, _, nlen, elen, clen = struct.unpack("<HHHIIIHHH", cd[pos + 10 : pos + 34])
            local = struct.unpack("<I", cd[pos + 42 : pos + 46])[0]
            name = cd[pos + 46 : pos + 46 + nlen].decode("utf-8", "replace")
            if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
                chunk = self._get(link.url, {"Range": f"bytes={local}-{local + 30 + nlen + 1024 + csize}"}).content
                lnlen, lelen = struct.unpack("<HH", chunk[26:30])
                data = chunk[30 + lnlen + lelen : 30 + lnlen + lelen + csize]
                raw = zlib.decompress(data, -15) if method == 8 else data
                return raw.decode("utf-8", "replace")
            pos += 46 + nlen + elen + clen
        raise OperationError(f"{redact(link.url)} has no .dist-info/METADATA", "the wheel is malformed")


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


def _metadata_from_zip(data: bytes, url: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            name = next(n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
            return zf.read(name).decode("utf-8", "replace")
    except (zipfile.BadZipFile, StopIteration) as exc:
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
