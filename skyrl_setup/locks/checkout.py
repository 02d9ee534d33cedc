"""A user's own SkyRL checkout (`install --project DIR`, `lock --from-skyrl DIR -o OUT`): which release of
the catalog describes its code, and the backend's profile built on the checkout's own lock.

A checkout is judged by the catalog release nearest to it (the same distribution: the newest at or below
its version, else the oldest above it): that release says where SkyRL's modules are, which engine
calls it needs, and which of the checkout's extras is the backend. The versions are the checkout's own.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from skyrl_setup.catalog import profiles, releases
from skyrl_setup.catalog.profiles import Profile
from skyrl_setup.catalog.releases import Release
from skyrl_setup.errors import UsageError
from skyrl_setup.humanize import sh

if TYPE_CHECKING:  # a checkout's reader imports uv's runner: only where a checkout is read
    from skyrl_setup.locks.skyrl_source import SkyrlSource


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


def release_for(source: SkyrlSource, backend: str) -> Release:
    catalog = releases.catalog()
    same = [r for r in catalog if r.distribution == source.name]
    if not same:
        known = ", ".join(sorted({r.distribution for r in catalog}))
        raise UsageError(f"{source.root}: the project is {source.name}, not a SkyRL distribution skyrl-setup knows ({known})",
                         "give a SkyRL checkout: its repository root, or skyrl-train/ for skyrl-train 0.x")
    with_backend = [r for r in same if backend in r.backends]
    if not with_backend:
        newest = same[-1]
        why = newest.removed.get(backend, f"{newest.label} has no {backend} backend")
        raise UsageError(f"{source.root} ({source.name} {source.version}): {why}",
                         f"{newest.label} has: {', '.join(sorted(newest.backends))}")
    below = [r for r in with_backend if _version(r.version) <= _version(source.version)]
    return below[-1] if below else with_backend[0]


def extra_names(backend: str) -> tuple[str, ...]:
    """The extra names the catalog's releases give a backend, newest release first (vllm: fsdp, vllm)."""
    return tuple(dict.fromkeys(extra for r in reversed(releases.having(backend)) if (extra := r.extra_for(backend))))


def profile_for(backend: str, source: SkyrlSource, release: str | Release | None = None) -> Profile:
    """The backend's profile on this checkout: the release's SkyRL side (modules, interface, artifacts, runtime
    variables), the checkout's extra for the backend, and both routes from the checkout's lock."""
    name = releases.backend_for_extra(backend) if backend not in profiles.available() else backend
    name = name or backend
    rel = release if isinstance(release, Release) else \
        releases.resolve(release, name) if release not in (None, "", "default") else release_for(source, name)
    if rel.distribution != source.name:
        raise UsageError(f"--skyrl {rel.label} describes {rel.distribution}; your checkout {source.root} is {source.name} "
                         f"{source.version}", f"drop --skyrl (the checkout is judged by {release_for(source, name).label}), "
                         f"or name a {source.name} release")
    profile = profiles.load(name, rel)
    extra = source.extra_for((profile.skyrl_extra or "", *extra_names(name)))
    if extra is None:
        raise UsageError(f"{source.root}: the {name} backend is SkyRL's {' or '.join(extra_names(name))} extra, which this "
                         f"checkout does not have (it has: {', '.join(source.extras) or 'none'})",
                         f"add the extra and re-lock: `uv lock --project {sh(source.root)}`")
    return dataclasses.replace(profile, skyrl_extra=extra, routes=("skyrl", "pypi"), requirements_published=())


def project_folder(project: str) -> str:
    """The folder to install from, given either folder of a checkout (its repository root, or skyrl-train/)."""
    from skyrl_setup.locks import skyrl_source

    return str(skyrl_source.locate(project))


def load_profile(backend: str, release: str | Release | None, project: str | None) -> Profile:
    """The profile a command builds with: the checkout's when there is one, else the release's."""
    if not project:
        return profiles.load(backend, release)
    from skyrl_setup.locks import skyrl_source

    return profile_for(backend, skyrl_source.read(project), release)
