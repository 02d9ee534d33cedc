"""The data each command's result carries: the `data` of its JSON envelope, which its human view draws.

TypedDicts, not dataclasses: the value is the JSON document (commands/results.py freezes and writes it as it is),
and a type checker holds the command that fills it and the view that reads it to the same keys. A nested value
that another module already owns as JSON (a plan, a verdict, a check) stays a mapping here; its owner types it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

JSON = Mapping[str, Any]


class InstallData(TypedDict):
    """Every install's data has these keys, whatever happened (planned only, nothing to do, built)."""
    backend: str | None
    venv: str | None
    plan: JSON | None
    dry_run: bool
    noop: bool
    generation: int | None
    previous_generation: int | None
    path: str | None
    lockfile: str | None
    lock_sha256: str | None
    imports: Sequence[JSON]
    pruned: Sequence[int]
    verdict: JSON | None
    ready: bool
    gpu_checks: Sequence[JSON]
    activate: str | None
    python: str | None
    env: Mapping[str, str]
    warnings: Sequence[str]
    seconds: float | None


class PackageMove(TypedDict):
    name: str
    old: str | None
    new: str | None


class ReleaseMove(TypedDict):
    old: str | None
    new: str | None
    why: str | None


class UpgradeData(TypedDict):
    venv: str
    backend: str
    generation: int | None
    previous_generation: int | None
    lockfile: str
    lock_sha256: str
    dry_run: bool
    noop: bool
    applied: bool
    proposed_lock: str | None
    left_out: Sequence[JSON]
    changes: Sequence[PackageMove]
    download: str
    built_from_source: Sequence[str]
    pruned: Sequence[int]
    imports: Sequence[JSON]
    seconds: float | None
    skyrl_release: ReleaseMove


class RollbackData(TypedDict):
    venv: str
    generation: int
    previous_generation: int | None
    backend: str
    lock_sha256: str | None


class LockRow(TypedDict):
    lockfile: str
    backend: str
    route: str | None
    cuda: str
    platform: str | None
    package_count: int
    download_bytes: int | None
    download: str | None
    lock_sha256: str
    changes: Sequence[str]


class LockData(TypedDict):
    lockfiles: Sequence[LockRow]
    skyrl_source: str | None
    skyrl_version: str | None
    skyrl_lock_sha256: str | None


class BundleData(TypedDict):
    bundle: str
    bytes: int
    backend: str
    cuda: str
    platform: str
    lock: str
    lock_sha256: str
    files: int
    artifacts: Sequence[JSON]
    lock_source: str
    not_bundled: Sequence[JSON]


class DockerfileData(TypedDict):
    dir: str
    dockerfile: str
    base_image: str
    cuda: str
    lock: str
    lock_sha256: str
    lock_origin: str
    lock_source: str
    route: str | None
    routes_not_taken: Sequence[str]
    tool_wheel: str
    install: Sequence[str]
    doctor: Sequence[str]
    strict: bool
    backend: str


class ProfilesData(TypedDict):
    profiles: Sequence[JSON]
    skyrl: str | None
    missing_lockfiles: Sequence[str]


class DoctorSummary(TypedDict):
    errors: int
    warnings: int
    failing: int
    fail_on: str
    seconds: float


class DoctorEnvironment(TypedDict):
    venv: str | None
    python: str
    backend: str
    record: JSON | None
    exists: bool
    python_version: str | None
    packages: Mapping[str, str]


class DoctorData(TypedDict):
    checks: Sequence[JSON]
    system: JSON
    gpus: Sequence[JSON]
    environment: DoctorEnvironment
    probes: JSON
    verdict: JSON | None
    model_fit: JSON | None
    summary: DoctorSummary


class CheckCompatData(TypedDict):
    backends: Sequence[str]
    additions: Sequence[str]
    target: JSON
    compatible: bool
    resolved: Mapping[str, str]
    seconds: float
    requests: int
    judged_against: Any


class NodeDoctor(TypedDict):
    node_id: str
    address: str
    hostname: str | None
    alive: bool
    gpus: Any
    error: str | None
    summary: JSON
    doctor: JSON
    gpu_checks: Sequence[JSON]
    drift: Sequence[str]
    ok: bool


class ClusterDoctorData(TypedDict):
    nodes: Sequence[NodeDoctor]
    drift: Sequence[JSON]
    dead: Sequence[str]
    model_fit: JSON | None
    failing: int


class NodeInstall(TypedDict):
    node_id: str
    address: str
    ok: bool
    venv: str | None
    generation: int | None
    noop: bool | None
    dry_run: bool | None
    ready: bool | None
    error: str | None


class ClusterInstallData(TypedDict):
    nodes: Sequence[NodeInstall]
    failed: int
    py_executable: str | None
    runtime_env: Mapping[str, str] | None
    warnings: Sequence[str]
