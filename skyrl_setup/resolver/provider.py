"""The resolvelib provider: requirements, candidates and preferences over IndexClient."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider

from skyrl_setup.detect.target import Target
from skyrl_setup.locks.pylock import supported_tags, target_environment
from skyrl_setup.resolver.index import FileLink, IndexClient


@dataclass(frozen=True)
class Candidate:
    name: str
    version: Version
    link: FileLink | None
    extras: frozenset = frozenset()

    @property
    def key(self) -> str:
        return self.name + (f"[{','.join(sorted(self.extras))}]" if self.extras else "")

    def format_for_error(self) -> str:
        return f"{self.name} {self.version}"


class Provider(AbstractProvider):
    def __init__(self, client: IndexClient, *, relevant: frozenset, target: Target, exclude_newer: str | None = None,
                 exempt: frozenset = frozenset(), priority: tuple[str, ...] = ()):
        self.client = client
        self.relevant = relevant
        self.env = target_environment(target.python, target.platform)
        self.tags = set(supported_tags(target.python, target.platform, target.glibc))
        self.python = Version(target.python)
        self.cutoff = _parse_time(exclude_newer) if exclude_newer else None
        self.exempt = exempt  # the user's own additions: not held to the profile's date freeze
        self.priority = priority  # decided first (newest wins): the engine, when looking for the latest set
        self._candidates: dict[str, list[Candidate]] = {}

    # -- identity and preference ---------------------------------------------------------------
    def identify(self, requirement_or_candidate) -> str:
        if isinstance(requirement_or_candidate, Candidate):
            return requirement_or_candidate.key
        name = canonicalize_name(requirement_or_candidate.name)
        extras = requirement_or_candidate.extras
        return name + (f"[{','.join(sorted(extras))}]" if extras else "")

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes):
        pinned = any(s.operator in ("==", "===") for info in information[identifier] for s in info.requirement.specifier)
        base = identifier.split("[")[0]
        rank = self.priority.index(base) if base in self.priority else len(self.priority)
        # exact pins first, then the priority list, then torch itself: clashes surface early and legibly
        return (not pinned, rank, base != "torch", identifier)

    # -- candidates --------------------------------------------------------------------------------
    def _all(self, name: str) -> list[Candidate]:
        if name not in self._candidates:
            best: dict[Version, FileLink] = {}
            for link in self.client.files(name):
                if not self._usable(link, name):
                    continue
                cur = best.get(link.version)
                if cur is None or (cur.tags is None and link.tags is not None):  # prefer a wheel's metadata
                    best[link.version] = link
            self._candidates[name] = [Candidate(name, v, best[v]) for v in sorted(best, reverse=True)]
        return self._candidates[name]

    def _usable(self, link: FileLink, name: str) -> bool:
        if link.tags is not None and not (link.tags & self.tags):
            return False
        if link.requires_python:
            try:
                if not SpecifierSet(link.requires_python).contains(self.python, prereleases=True):
                    return False
            except ValueError:
                pass
        if self.cutoff and name not in self.exempt and link.upload_time and _parse_time(link.upload_time) > self.cutoff:
            return False
        return True

    def find_matches(self, identifier, requirements, incompatibilities):
        name, _, extras = identifier.partition("[")
        extras = frozenset(extras.rstrip("]").split(",")) if extras else frozenset()
        bad = {c.version for c in incompatibilities[identifier]}
        reqs = list(requirements[identifier])
        pre = self._prereleases(name, reqs)
        out = []
        for c in self._all(name):
            if c.version in bad or (c.version.is_prerelease and not pre):
                continue
            if all(r.specifier.contains(c.version, prereleases=True) for r in reqs):
                out.append(Candidate(name, c.version, c.link, extras) if extras else c)
        return out

    def _prereleases(self, name: str, reqs: list[Requirement]) -> bool:
        """uv's and pip's default: pre-releases where a requirement names one (`==2.9.0rc1`, `>=1.0b2`),
        or where the package publishes nothing else; never for a plain `torch>=2.7`."""
        combined = SpecifierSet()
        for r in reqs:
            combined &= r.specifier
        return bool(combined.prereleases) or all(c.version.is_prerelease for c in self._all(name))

    def is_satisfied_by(self, requirement, candidate) -> bool:
        # selection is find_matches' job; a pre-release chosen there satisfies a plain `>=` too, as in pip and uv
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate):
        deps = []
        if candidate.extras:  # an extras candidate depends on its base at the same version
            deps.append(Requirement(f"{candidate.name}=={candidate.version}"))
        if candidate.link is None:
            return deps
        meta = self.client.metadata(candidate.link)
        for line in meta.get_all("Requires-Dist") or []:
            try:
                req = Requirement(line)
            except Exception:  # noqa: BLE001 - a malformed line in someone's metadata
                continue
            if not self._applies(req, candidate.extras):
                continue
            if canonicalize_name(req.name) in self.relevant:
                req.marker = None
                deps.append(req)
        # resolvelib reports the first dependency that cannot be met: torch's clash is the one to name (the
        # torch family and the kernels follow torch), whatever order the metadata lists them in
        return sorted(deps, key=lambda r: canonicalize_name(r.name) != "torch")

    def _applies(self, req: Requirement, extras: frozenset) -> bool:
        """Base candidates take unconditional requirements; extras candidates only their extra's."""
        if req.marker is None:
            return not extras
        base = req.marker.evaluate({**self.env, "extra": ""})
        if not extras:
            return base
        return not base and any(req.marker.evaluate({**self.env, "extra": e}) for e in extras)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
