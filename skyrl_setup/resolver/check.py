"""The resolver's entry point: can these backends and additions live in one environment?"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from resolvelib import BaseReporter, ResolutionImpossible, Resolver
from resolvelib.resolvers import ResolutionTooDeep

from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.catalog.roles import PackageRoles, package_roles
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.detect.target import Target
from skyrl_setup.errors import OperationError, UsageError
from skyrl_setup.locks import (
    additions as lock_basis,  # `additions` is check_compat's argument
)
from skyrl_setup.locks.pylock import Lock
from skyrl_setup.resolver.explain import Conflict, explain
from skyrl_setup.resolver.index import IndexClient
from skyrl_setup.resolver.provider import Provider

PYPI = "https://pypi.org/simple"


def default_indexes(profiles: list[Profile], variant: str, mirrors: Mirrors, cfg=None) -> list[str]:
    """Where uv would look: the torch index of the profile, then the configured index (or PyPI) and extra
    indexes, by uv's settings, then pip's (detect_index(): the one configuration every consumer reads)."""
    from skyrl_setup.detect.index_config import detect_index

    cfg = cfg if cfg is not None else detect_index()
    out = []
    for p in profiles:
        # a SkyRL-sourced profile pins public versions, which the default index serves alike
        idx = "pypi" if p.from_skyrl else p.index_for(variant, mirrors)
        if idx != "pypi" and idx not in out:
            out.append(idx)
    out.append(cfg.default or PYPI)
    out += [u for u in cfg.extra if u not in out]
    return out


@dataclass(frozen=True)
class CompatResult:
    ok: bool
    pins: dict[str, str] = field(default_factory=dict)  # what the relevant packages resolved to
    conflict: Conflict | None = None
    seconds: float = 0.0
    requests: int = 0
    judged: dict[str, dict] = field(default_factory=dict)  # backend -> the lock its pins were taken from (Basis.to_json)

    def to_json(self) -> dict:
        doc = {"compatible": self.ok, "resolved": self.pins, "seconds": round(self.seconds, 3), "requests": self.requests,
               "judged_against": self.judged}
        if self.conflict:
            doc.update(self.conflict.to_json())
        return doc


def parse_additions(specs: list[str]) -> list[Requirement]:
    out = []
    for s in specs:
        try:
            out.append(Requirement(s))
        except InvalidRequirement as exc:
            raise UsageError(f"{s!r} is not a valid requirement ({str(exc).splitlines()[0]})", "write it like sglang==0.5.7 or 'transformers>=4.57'") from None
    return out


def check_compat(profiles: list[Profile], additions: list[str], *, target: Target, mirrors: Mirrors, indexes: list[str] | None = None,
                 with_skyrl: bool = False, exempt: frozenset = frozenset(), priority: tuple[str, ...] = (),
                 enrich: bool = True, follow: frozenset = frozenset(), locks: dict[str, Lock] | None = None) -> CompatResult:
    """Resolve the torch-relevant part of profiles + additions for `target`'s Python, platform and CUDA
    variant, the very target uv installs for. `exempt` names escape the date freeze; `follow` names are
    resolved too, though usually left to uv (transformers, ray...). `locks`: backend -> the lock whose
    requirements stand for that profile's pins (and whose indexes are searched too)."""
    t0 = time.perf_counter()
    locks = locks or {}
    origins: dict[int, str] = {}
    roots: list[Requirement] = []
    for p in profiles:
        lock = locks.get(p.name)
        for spec in lock_basis.requirements(p, lock, with_skyrl=with_skyrl) if lock else p.requirements(with_skyrl=with_skyrl):
            req = Requirement(spec)
            origins[id(req)] = f"the {p.name} profile"
            roots.append(req)
    for req in parse_additions(additions):
        origins[id(req)] = "you"
        roots.append(req)
    relevant = relevant_names(roots, follow)
    cutoffs = [p.exclude_newer for p in profiles if p.exclude_newer]
    if not indexes:
        indexes = default_indexes(profiles, target.cuda, mirrors)
        for lock in locks.values():
            indexes += lock_basis.lock_indexes(lock, mirrors, indexes)
    client = IndexClient(indexes)
    exempt = exempt | frozenset(canonicalize_name(r.name) for r in parse_additions(additions))
    provider = Provider(client, relevant=relevant, target=target, exclude_newer=min(cutoffs) if cutoffs else None,
                        exempt=exempt, priority=priority)
    try:
        result = Resolver(provider, BaseReporter()).resolve(roots, max_rounds=2000)
    except ResolutionImpossible as exc:
        engines = _engine_requirements(provider, profiles) if enrich else {}
        conflict = explain(exc, origins, [p.name for p in profiles], list(additions), engines,
                           versions_of=lambda name: [c.version for c in provider._all(name)],
                           where=f"Python {target.python} on {target.platform}")
        return CompatResult(False, conflict=conflict, seconds=time.perf_counter() - t0, requests=client.requests)
    except ResolutionTooDeep:
        raise OperationError("the compatibility check gave up after 2000 rounds", "report the packages you asked for") from None
    finally:
        client.close()
    pins = {k: str(c.version) for k, c in sorted(result.mapping.items()) if "[" not in k}
    return CompatResult(True, pins, seconds=time.perf_counter() - t0, requests=client.requests)


def _engine_requirements(provider: Provider, profiles: list[Profile]) -> dict[str, list[tuple[str, str]]]:
    """For each profile: what its exactly pinned main packages require, e.g. sglang 0.5.7 -> torch==2.9.1.

    Lets a clash between two profiles' own torch pins be told through the packages that
    impose them, which is what a user can act on.
    """
    out: dict[str, list[tuple[str, str]]] = {}
    for p in profiles:
        rows = []
        for name in p.main_packages:
            spec = p.packages.get(name, "")
            if not spec.startswith("==") or name == "torch":
                continue
            match = [c for c in provider._all(name) if str(c.version) == spec[2:]]
            if not match:
                continue
            for dep in provider.get_dependencies(match[0]):
                rows.append((f"{name} {match[0].version}", str(dep)))
        out[p.name] = rows
    return out


def relevant_names(roots: list[Requirement], follow: frozenset = frozenset(), roles: PackageRoles | None = None) -> frozenset[str]:
    """What the resolver expands: the torch-relevant packages, `follow`, and every root but those whose pins never carry
    CUDA (package-roles.toml): those stay roots, their requirements left to uv."""
    roles = roles or package_roles()
    names = {canonicalize_name(r.name) for r in roots}
    return roles.torch_relevant | follow | frozenset(n for n in names if n not in roles.not_torch_relevant)
