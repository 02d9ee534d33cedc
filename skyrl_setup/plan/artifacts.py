"""Components served outside the package indexes: where each one can be had from here.

A profile gives a URL template; the concrete wheel name follows from the environment
(CUDA major, torch major.minor, C++ ABI, CPython tag). Local folders given with
--find-links win over the network; a URL is checked with one HEAD request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import httpx
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from skyrl_setup.catalog.profiles import Artifact
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.redact import redact
from skyrl_setup.resolver.auth import for_configured
from skyrl_setup.resolver.localfiles import local_path
from skyrl_setup.uv.backend import offline_requested


@dataclass(frozen=True)
class ArtifactPlan:
    name: str
    version: str
    required: bool
    url: str
    status: str  # find-links / url / unreachable
    location: str  # the file or URL to install from, "" when unreachable
    reason: str = ""
    error: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "required": self.required, "url": redact(self.url),
                "status": self.status, "location": redact(self.location), "reason": self.reason, "error": self.error}


def template_vars(variant: str, torch: str, python_minor: str) -> dict[str, str]:
    tv = Version(torch)
    cuda_major = variant[2:-1] if variant.startswith("cu") else "cpu"
    # PyTorch's pip wheels use the C++11 ABI from 2.7 on (built on manylinux_2_28).
    abi = "TRUE" if tv >= Version("2.7") else "FALSE"
    return {"cuda_major": cuda_major, "torch_mm": f"{tv.major}.{tv.minor}", "abi": abi, "py": python_minor.replace(".", "")}


def artifact_url(a: Artifact, variant: str, torch: str, python_minor: str) -> str:
    return a.url.format(version=a.version, **template_vars(variant, torch, python_minor))


def wheel_filename(a: Artifact, variant: str, torch: str, python_minor: str) -> str:
    return artifact_url(a, variant, torch, python_minor).rsplit("/", 1)[-1]


def find_local(a: Artifact, filename: str, dirs: tuple[Path, ...]) -> Path | None:
    for d in dirs:
        exact = d / filename
        if exact.is_file():
            return exact
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*.whl")):
            try:
                name, version, _, _ = parse_wheel_filename(f.name)
            except InvalidWheelFilename:
                continue
            if canonicalize_name(name) == a.name and version.public == Version(a.version).public:
                return f
    return None


def reachable(url: str, timeout: float = 5.0, *, offline: bool = False) -> str | None:
    """None if the URL answers 2xx/3xx to HEAD, else the reason."""
    if url.startswith("file:"):  # a local folder or file: there or not, offline or not
        return None if local_path(url).exists() else f"no such file or folder: {local_path(url)}"
    if offline or offline_requested():
        return "offline mode"
    try:
        r = httpx.head(url, follow_redirects=True, timeout=timeout, auth=for_configured())
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {redact(str(exc)) or 'no answer'}"
    return None if r.status_code < 400 else f"HTTP {r.status_code}"


def _located(a: Artifact, variant: str, torch: str, python_minor: str, find_links: tuple[Path, ...],
             mirrors: Mirrors) -> tuple[str, Path | None]:
    """(the artifact's URL, through mirrors; its file in a --find-links folder, if one holds it)."""
    return (mirrors.rewrite(artifact_url(a, variant, torch, python_minor)),
            find_local(a, wheel_filename(a, variant, torch, python_minor), find_links))


def to_fetch(artifacts: tuple[Artifact, ...], variant: str, torch: str, python_minor: str, find_links: tuple[Path, ...],
             mirrors: Mirrors) -> list[str]:
    """The URLs plan_artifacts would probe: those of the artifacts no --find-links folder holds."""
    return [url for url, local in (_located(a, variant, torch, python_minor, find_links, mirrors) for a in artifacts)
            if not local]


class EarlyProbes:
    """Artifact URLs asked while the route probes run, each on a thread of its own; an answer is waited for only
    where the plan asks for it (the route taken), and a thread still asking never holds the process open."""

    def __init__(self, timeout: float, offline: bool):
        self.timeout, self.offline = timeout, offline
        self._lock = threading.Lock()
        self._done: dict[str, threading.Event] = {}
        self._answers: dict[str, str | None] = {}

    def start(self, urls: list[str]) -> None:
        for url in urls:
            with self._lock:
                if url in self._done:
                    continue
                done = self._done[url] = threading.Event()
            threading.Thread(target=self._ask, args=(url, done), daemon=True).start()

    def _ask(self, url: str, done: threading.Event) -> None:
        try:  # an error other than the network's is left for plan_artifacts to raise, asking again
            self._answers[url] = reachable(url, self.timeout, offline=self.offline)
        finally:
            done.set()

    def answer(self, url: str) -> tuple[bool, str | None]:
        """(whether `url` was asked here and answered, the answer), once a probe still asking has ended."""
        done = self._done.get(url)
        if done is None:
            return False, None
        done.wait()
        return url in self._answers, self._answers.get(url)


def plan_artifacts(artifacts: tuple[Artifact, ...], variant: str, torch: str, python_minor: str,
                   find_links: tuple[Path, ...], mirrors: Mirrors, *, offline: bool = False,
                   timeout: float = 5.0, early: EarlyProbes | None = None) -> tuple[ArtifactPlan, ...]:
    """`early`: the URLs asked beside the route probes, whose answers are taken; the others are asked here."""
    out = []
    for a in artifacts:
        url, local = _located(a, variant, torch, python_minor, find_links, mirrors)
        if local:
            out.append(ArtifactPlan(a.name, a.version, a.required, url, "find-links", str(local), a.reason))
            continue
        answered, err = early.answer(url) if early else (False, None)
        if not answered:
            err = reachable(url, timeout, offline=offline)
        if err is None:
            out.append(ArtifactPlan(a.name, a.version, a.required, url, "url", url, a.reason))
        else:
            out.append(ArtifactPlan(a.name, a.version, a.required, url, "unreachable", "", a.reason, err))
    return tuple(out)
