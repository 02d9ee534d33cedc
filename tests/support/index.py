"""A real package index on 127.0.0.1 for real uv: PEP 503 HTML, PEP 691 JSON, PEP 658 metadata.

Several indexes under one server: /<index>/simple/<project>/ (e.g. /pypi/simple/torch/),
files under /<index>/files/<filename>, and GitHub-like release assets under
/assets/<filename>. The "artifactory" layout serves the same under /api/pypi/<index>/simple/
and /api/pypi/<index>/packages/<h[:2]>/<h[2:4]>/<filename>, as a company mirror would; built
with `source=` another index, it serves that index's very files. Faults are injected per URL pattern: HTTP status codes, delays past
a client's timeout, truncated bodies, wrong hashes, malformed pages, dropped connections.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name

from tests.support.wheels import FakeDist, build_sdist, build_wheel

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


class _QuietServer(ThreadingHTTPServer):
    # uv opens dozens of connections at once; past socketserver's backlog of 5 the kernel drops the SYNs and the
    # client tries again a second later (on a busy machine, past a route probe's 1.5 s)
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # uv hangs up on the other downloads after the first failure; that is expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Fault:
    pattern: str  # regex searched in the request path
    kind: str  # status / slow / truncate / badhash / malformed / drop / gate
    value: float = 0
    remaining: int = -1  # how many requests it hits; -1 forever
    gate: threading.Event | None = None  # kind "gate": the answer waits for it (value seconds at most)


@dataclass
class _File:
    dist: FakeDist
    path: Path
    sha256: str


@dataclass
class LocalIndex:
    root: Path
    catalog: dict[str, list[FakeDist]]
    pep658: bool = True
    faults: list[Fault] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    unauthorized: list[str] = field(default_factory=list)  # paths asked for without the credentials
    heads: list[str] = field(default_factory=list)  # paths asked for with HEAD (probes)
    layout: str = "plain"  # or "artifactory"
    source: LocalIndex | None = None  # serve this index's files (the same bytes) instead of building
    html_only: bool = False  # PEP 503 HTML pages whatever the client asks: no upload times, as many mirrors serve
    auth: str | None = None  # "user:password" asked for on every path (HTTP 401 otherwise), as some mirrors do

    def __post_init__(self):
        self.files: dict[str, dict[str, list[_File]]] = {}
        if self.source is not None:
            self.files = self.source.files
            self.root = self.source.root
        for index, dists in ({} if self.source is not None else self.catalog).items():
            for d in dists:
                p = build_sdist(d, self.root / index) if d.sdist else build_wheel(d, self.root / index)
                entry = _File(d, p, hashlib.sha256(p.read_bytes()).hexdigest())
                self.files.setdefault(index, {}).setdefault(canonicalize_name(d.name), []).append(entry)
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalIndex:
        handler = _make_handler(self)
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def prefix(self) -> str:
        return "/api/pypi" if self.layout == "artifactory" else ""

    def url(self, index: str = "pypi") -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}/{index}/simple"

    def file_url(self, base: str, index: str, e: _File) -> str:
        if self.layout == "artifactory":
            return f"{base}{self.prefix}/{index}/packages/{e.sha256[:2]}/{e.sha256[2:4]}/{e.path.name}"
        return f"{base}/{index}/files/{e.path.name}"

    def asset_url(self, filename: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/assets/{filename}"

    def asset_path(self, filename: str) -> Path:
        return self.root / "assets" / filename

    # -- faults ----------------------------------------------------------------------------
    def inject(self, pattern: str, kind: str, value: float = 0, remaining: int = -1,
               gate: threading.Event | None = None) -> Fault:
        f = Fault(pattern, kind, value, remaining, gate)
        with self._lock:
            self.faults.append(f)
        return f

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()
            self.hosts.clear()
            self.ranges.clear()
            self.heads.clear()

    def _fault_for(self, path: str, host: str = "") -> Fault | None:
        with self._lock:
            self.requests.append(path)
            if host:
                self.hosts.append(host)
            for f in self.faults:
                if f.remaining != 0 and re.search(f.pattern, path):
                    if f.remaining > 0:
                        f.remaining -= 1
                    return f
        return None

    # -- pages -----------------------------------------------------------------------------
    def project_json(self, index: str, project: str, base: str) -> dict | None:
        entries = self.files.get(index, {}).get(canonicalize_name(project))
        if not entries:
            return None
        files = []
        for e in entries:
            item = {"filename": e.path.name, "url": self.file_url(base, index, e),
                    "hashes": {"sha256": e.sha256}, "upload-time": e.dist.upload_time, "size": e.path.stat().st_size}
            if e.dist.requires_python:
                item["requires-python"] = e.dist.requires_python
            if self.pep658 and not e.dist.sdist:  # as on PyPI: metadata files for wheels only
                meta = e.dist.metadata().encode()
                item["core-metadata"] = {"sha256": hashlib.sha256(meta).hexdigest()}
            files.append(item)
        return {"meta": {"api-version": "1.1"}, "name": canonicalize_name(project), "files": files,
                "versions": sorted({e.dist.version for e in entries})}

    def find_file(self, index: str, filename: str) -> _File | None:
        for entries in self.files.get(index, {}).values():
            for e in entries:
                if e.path.name == filename:
                    return e
        return None


def _make_handler(idx: LocalIndex):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _send_file(self, body: bytes, fault: Fault | None):
            rng = self.headers.get("Range", "")
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng)
            if fault and fault.kind == "swap":  # a valid wheel, but not the one promised: a wrong hash
                other = next(e for ents in idx.files["pypi"].values() for e in ents if e.path.read_bytes() != body)
                body = other.path.read_bytes()
                fault = None
            if m and not fault:
                with idx._lock:
                    idx.ranges.append(self.path)
                total = len(body)
                if m.group(1) == "":
                    start = max(0, total - int(m.group(2)))
                    end = total - 1
                else:
                    start, end = int(m.group(1)), min(total - 1, int(m.group(2) or total - 1))
                chunk = body[start : end + 1]
                self.send_response(206)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Range", f"bytes {start}-{end}/{total}")
                self.send_header("Content-Length", str(len(chunk)))
                self.end_headers()
                self._body(chunk)
                return
            return self._send(200, body, "application/octet-stream", fault)

        def _send(self, status: int, body: bytes, ctype: str, fault: Fault | None = None):
            if fault and fault.kind == "truncate":
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                # Said, not only done: a client that pooled this connection after a complete
                # (HEAD) response would send its next request into the closed socket.
                self.send_header("Connection", "close")
                self.end_headers()
                self._body(body[: len(body) // 2])
                return
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self._body(body)

        def _body(self, data: bytes) -> None:
            # Never after a HEAD response: the bytes would stay on a keep-alive connection and the
            # client would parse them as its next response.
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_HEAD(self):
            with idx._lock:
                idx.heads.append(self.path.split("?", 1)[0])
            self.do_GET()

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            fault = idx._fault_for(path, self.headers.get("Host", ""))
            if idx.auth and self.headers.get("Authorization") != "Basic " + base64.b64encode(idx.auth.encode()).decode():
                with idx._lock:
                    idx.unauthorized.append(path)
                return self._send(401, b"credentials required", "text/plain")
            if fault:
                if fault.kind == "status":
                    return self._send(int(fault.value), b"injected fault", "text/plain")
                if fault.kind == "slow":
                    time.sleep(fault.value)
                if fault.kind == "gate" and fault.gate is not None:
                    fault.gate.wait(fault.value)
                if fault.kind == "drop":
                    self.close_connection = True
                    return
            base = f"http://{self.headers.get('Host', f'127.0.0.1:{idx.port}')}"
            if idx.prefix:
                if not path.startswith(idx.prefix + "/"):
                    return self._send(404, b"not found", "text/plain")
                path = path[len(idx.prefix):]
            parts = [p for p in path.split("/") if p]
            if idx.layout == "artifactory" and len(parts) == 5 and parts[1] == "packages":
                parts = [parts[0], "files", parts[4]]
            elif idx.layout == "artifactory" and len(parts) >= 2 and parts[1] == "files":
                return self._send(404, b"not found", "text/plain")
            if len(parts) >= 2 and parts[0] == "assets":  # /assets/<any release path>/<filename>
                f = idx.root / "assets" / parts[-1]
                if f.is_file():
                    return self._send(200, f.read_bytes(), "application/octet-stream", fault)
                return self._send(404, b"not found", "text/plain")
            if len(parts) >= 2 and parts[1] == "simple":
                index = parts[0]
                if len(parts) == 2:
                    names = sorted(idx.files.get(index, {}))
                    if "json" in self.headers.get("Accept", "") and not idx.html_only:
                        doc = {"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]}
                        return self._send(200, json.dumps(doc).encode(), JSON_TYPE)
                    body = "".join(f'<a href="{n}/">{n}</a>\n' for n in names)
                    return self._send(200, f"<html><body>{body}</body></html>".encode(), "text/html")
                doc = idx.project_json(index, parts[2], base)
                if doc is None:
                    return self._send(404, b"not found", "text/plain")
                if fault and fault.kind == "malformed":
                    return self._send(200, b'{"files": [ {"filename": ', JSON_TYPE)
                if fault and fault.kind == "badhash":
                    for f in doc["files"]:
                        f["hashes"]["sha256"] = "0" * 64
                wants_json = "json" in self.headers.get("Accept", "") or "html" not in self.headers.get("Accept", "html")
                if wants_json and not idx.html_only:
                    return self._send(200, json.dumps(doc).encode(), JSON_TYPE)
                links = []
                for f in doc["files"]:
                    attrs = f' data-dist-info-metadata="sha256={f["core-metadata"]["sha256"]}"' if "core-metadata" in f else ""
                    if "requires-python" in f:
                        attrs += f' data-requires-python="{html.escape(f["requires-python"])}"'
                    links.append(f'<a href="{f["url"]}#sha256={f["hashes"]["sha256"]}"{attrs}>{f["filename"]}</a>')
                return self._send(200, ("<html><body>" + "\n".join(links) + "</body></html>").encode(), "text/html")
            if len(parts) == 3 and parts[1] == "files":
                index, name = parts[0], parts[2]
                if name.endswith(".metadata"):
                    e = idx.find_file(index, name[: -len(".metadata")])
                    if e is None or not idx.pep658:
                        return self._send(404, b"not found", "text/plain")
                    if fault and fault.kind == "malformed":
                        return self._send(200, b"\xff\xfe\x00garbage: [", "text/plain")
                    return self._send(200, e.dist.metadata().encode(), "text/plain", fault)
                e = idx.find_file(index, name)
                if e is None:
                    return self._send(404, b"not found", "text/plain")
                return self._send_file(e.path.read_bytes(), fault)
            return self._send(404, b"not found", "text/plain")

    return Handler
