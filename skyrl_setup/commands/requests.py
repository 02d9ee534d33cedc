"""What a user asked for, one frozen value per command; each knows its flags and writes itself back as argv.

The CLI builds its parser from these declarations and nothing else reads argparse. The
cluster fan-out sends a node `request.to_argv()`, so a flag added here travels to the nodes
without anyone remembering to forward it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from skyrl_setup.catalog import DEFAULT_BACKEND

BACKEND_HELP = (f"backend profile: {DEFAULT_BACKEND} (default), vllm, flashrl, megatron, sglang-matrix; SkyRL's own extra names "
                "(fsdp, mcore) where they are unambiguous (see `skyrl-setup profiles`)")
SKYRL_HELP = ("SkyRL release: a version (0.3.0, skyrl==0.4.0) or latest; default: the newest sound release of the "
              "version matrix's generation (see `skyrl-setup profiles`)")
VENV_HELP = "environment path (default: a per-user data folder …/skyrl-setup/envs/<backend>)"


def opt(*flags: str, help: str, kind: str = "value", default=None, metavar: str | None = None, number: bool = False,
        group: str | None = None, hidden: bool = False):
    """A field declared by its flags. kind: value | many (repeatable) | switch | positional | optional (--ray [ADDR])."""
    if kind in ("many", "positional"):
        default = ()
    elif kind == "switch":
        default = False
    meta = {"flags": flags, "help": help, "kind": kind, "metavar": metavar, "number": number, "group": group, "hidden": hidden}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Request:  # a dataclass without fields (its class attributes are not annotated), so fields() takes every request
    """A request's fields are its flags. Each class has a docstring: dataclass() otherwise computes one from the
    __init__ signature (inspect.signature), at every import of this module."""

    command = ""
    fan_out_drops = ("ray", "timeout")  # what only the driver of a cluster run uses

    def to_argv(self, *, drop: tuple[str, ...] = ()) -> list[str]:
        """The argv that parses back into this request (defaults left out)."""
        argv: list[str] = [self.command]
        positional: list[str] = []
        for f in fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if f.name in drop or value == f.default:
                continue
            flag = meta["flags"][0]
            if meta["kind"] == "switch":
                argv.append(flag)
            elif meta["kind"] == "many":
                argv += [f"{flag}={v}" for v in value]  # `=`: a value may start with '-' (--with=-e ./pkg)
            elif meta["kind"] == "positional":
                positional += ["--", *value] if any(str(v).startswith("-") for v in value) else list(value)
            elif meta["kind"] == "optional" and value == "auto":
                argv.append(flag)
            else:
                argv.append(f"{flag}={_number(value) if meta['number'] else value}")
        return argv + positional

    def for_nodes(self) -> list[str]:
        return self.to_argv(drop=self.fan_out_drops)


def _number(v) -> str:
    return repr(float(v))


@dataclass(frozen=True)
class ProfilesRequest(Request):
    """`skyrl-setup profiles`: the backend profiles and their pins."""

    command = "profiles"
    skyrl: str | None = opt("--skyrl", metavar="VERSION", help=SKYRL_HELP)


@dataclass(frozen=True)
class LockRequest(Request):
    """`skyrl-setup lock`: a profile resolved into a PEP 751 lockfile."""

    command = "lock"
    backend: str | None = opt("--backend", help=BACKEND_HELP + "; with --from-skyrl: every backend built from SkyRL's lock")
    from_skyrl: str | None = opt("--from-skyrl", metavar="DIR",
                                 help="SkyRL's skyrl-train folder (pyproject.toml + uv.lock): one lockfile per route")
    cuda: str | None = opt("--cuda", help="CUDA variant (default: the profile's first)")
    platform: str | None = opt("--platform", help="target platform, e.g. linux_x86_64 (default: this host's)")
    output: str | None = opt("--output", "-o", help="write here instead of lockfiles/")
    find_links: tuple[str, ...] = opt("--find-links", kind="many", metavar="DIR", help="extra folder of wheels")
    mirror: tuple[str, ...] = opt("--mirror", kind="many", metavar="FROM=TO", help="map an upstream URL prefix to a mirror")
    skyrl: str | None = opt("--skyrl", metavar="VERSION", help=SKYRL_HELP)


@dataclass(frozen=True)
class InstallRequest(Request):
    """`skyrl-setup install`: a verified environment for a backend."""

    command = "install"
    backends: tuple[str, ...] = opt("--backend", kind="many",
                                    help=BACKEND_HELP + "; twice to ask whether two can share one env")
    venv: str | None = opt("--venv", help=VENV_HELP)
    skyrl: str | None = opt("--skyrl", metavar="VERSION", help=SKYRL_HELP)
    additions: tuple[str, ...] = opt("--with", kind="many", metavar="SPEC",
                                     help="an extra requirement for the environment, checked against the backend's pins first")
    allow_moves: bool = opt("--allow-moves", kind="switch",
                            help="with --with: accept that an addition moves packages of SkyRL's lock (refused otherwise)")
    cuda: str | None = opt("--cuda", help="CUDA variant: auto (default) or e.g. cu128; env SKYRL_SETUP_CUDA")
    python: str | None = opt("--python", help="Python 3.12 interpreter path, or 3.12")
    project: str | None = opt("--project", help="install this SkyRL checkout (editable) instead of skyrl-train from PyPI")
    lock: str | None = opt("--lock", help="install this lockfile instead of the profile's")
    find_links: tuple[str, ...] = opt("--find-links", kind="many", metavar="DIR", help="folder of wheels (off-index components)")
    require_gpu: bool = opt("--require-gpu", kind="switch",
                            help="fail (exit 4) where no NVIDIA GPU is found or the GPU probes fail")
    force: bool = opt("--force", kind="switch", help="rebuild even if current, or replace another backend's env")
    dry_run: bool = opt("--dry-run", kind="switch", help="print the plan and stop")
    no_verify: bool = opt("--no-verify", kind="switch", help="skip the import check (not recommended)")
    strict: bool = opt("--strict", kind="switch", help="exit 1 unless the environment is ready for SkyRL training (for CI)")
    wait: bool = opt("--wait", kind="switch", help="wait for another skyrl-setup working on the same env")
    mirror: tuple[str, ...] = opt("--mirror", kind="many", metavar="FROM=TO", help="map an upstream URL prefix to a mirror")
    from_bundle: str | None = opt("--from-bundle", metavar="FILE", help="install from an offline bundle (no network used)")
    ray: str | None = opt("--ray", kind="optional", metavar="ADDRESS", help="build the environment on every node of a Ray cluster")
    timeout: float | None = opt("--timeout", number=True, help="seconds to wait for each node (with --ray)")

    @property
    def backend(self) -> str:
        return self.backends[0] if self.backends else DEFAULT_BACKEND


@dataclass(frozen=True)
class BundleRequest(Request):
    """`skyrl-setup bundle`: a lock and every file it needs, in one archive."""

    command = "bundle"
    backend: str = opt("--backend", default=DEFAULT_BACKEND, help=BACKEND_HELP)
    cuda: str | None = opt("--cuda", help="CUDA variant (default: the profile's first)")
    platform: str | None = opt("--platform", help="target platform, e.g. linux_x86_64 (default: this host's)")
    lock: str | None = opt("--lock", help="bundle this lockfile instead of the profile's")
    find_links: tuple[str, ...] = opt("--find-links", kind="many", metavar="DIR", help="folder with off-index wheels to include")
    output: str | None = opt("--output", "-o", help="archive path (default: skyrl-<backend>-<cuda>-<platform>.bundle.tar)")
    skyrl: str | None = opt("--skyrl", metavar="VERSION", help=SKYRL_HELP)
    mirror: tuple[str, ...] = opt("--mirror", kind="many", metavar="FROM=TO", help="map an upstream URL prefix to a mirror")


@dataclass(frozen=True)
class UpgradeRequest(Request):
    """`skyrl-setup upgrade`: an environment moved forward (plan, check, build, swap)."""

    command = "upgrade"
    specs: tuple[str, ...] = opt("specs", kind="positional", metavar="SPEC",
                                 help="packages to move, e.g. sglang==0.5.8 (the profile's other pins hold)")
    backend: str | None = opt("--backend", help="the environment's backend (to find its default location)")
    venv: str | None = opt("--venv", help="environment path (default: install's location for the backend)")
    lock: str | None = opt("--lock", help="move to this lockfile")
    skyrl: str | None = opt("--skyrl", metavar="VERSION", help="move to another SkyRL release (a version or latest), "
                                                                "also across the rename skyrl-train -> skyrl")
    from_skyrl: str | None = opt("--from-skyrl", metavar="DIR",
                                 help="move to SkyRL's lock in DIR (a newer release or your checkout after a pull)")
    latest: bool = opt("--latest", kind="switch", help="propose the newest versions of the backend's packages that agree")
    dry_run: bool = opt("--dry-run", kind="switch", help="show old → new and stop")
    yes: bool = opt("--yes", "-y", kind="switch", help="apply --latest without asking")
    find_links: tuple[str, ...] = opt("--find-links", kind="many", metavar="DIR", help="folder of wheels (off-index components)")
    cuda: str | None = opt("--cuda", hidden=True, help="")
    wait: bool = opt("--wait", kind="switch", help="wait for another skyrl-setup working on the same env")
    mirror: tuple[str, ...] = opt("--mirror", kind="many", metavar="FROM=TO", help="map an upstream URL prefix to a mirror")


@dataclass(frozen=True)
class RollbackRequest(Request):
    """`skyrl-setup rollback`: an environment pointed back at its previous generation."""

    command = "rollback"
    backend: str | None = opt("--backend", help="the environment's backend (to find its default location)")
    venv: str | None = opt("--venv", help="environment path")
    wait: bool = opt("--wait", kind="switch", help="wait for another skyrl-setup working on the same env")


@dataclass(frozen=True)
class CheckCompatRequest(Request):
    """`skyrl-setup check-compat`: can these packages live with a backend?"""

    command = "check-compat"
    specs: tuple[str, ...] = opt("specs", kind="positional", metavar="SPEC", help="requirements to add, e.g. vllm==0.11.0")
    backends: tuple[str, ...] = opt("--backend", kind="many", help=BACKEND_HELP + "; repeat to check two backends together")
    cuda: str | None = opt("--cuda", help="CUDA variant (default: the profile's first)")
    skyrl: str | None = opt("--skyrl", metavar="VERSION", help=SKYRL_HELP)


@dataclass(frozen=True)
class DockerfileRequest(Request):
    """`skyrl-setup dockerfile`: a Docker build context that installs a backend's lock."""

    command = "dockerfile"
    backend: str = opt("--backend", default=DEFAULT_BACKEND, help=BACKEND_HELP)
    cuda: str | None = opt("--cuda", help="CUDA variant (default: the profile's first)")
    lock: str | None = opt("--lock", help="build from this lockfile instead of the profile's")
    output: str | None = opt("--output", "-o", metavar="DIR", help="folder to write into (default: ./skyrl-<backend>-docker)")
    skyrl: str | None = opt("--skyrl", metavar="VERSION", help=SKYRL_HELP)
    strict: bool = opt("--strict", kind="switch", help="the image build fails unless the environment is ready for SkyRL training")
    force: bool = opt("--force", kind="switch", help="replace files in -o DIR that skyrl-setup did not write")


@dataclass(frozen=True)
class DoctorRequest(Request):
    """`skyrl-setup doctor`: the system, an environment and the GPUs, checked."""

    command = "doctor"
    backend: str | None = opt("--backend", help=BACKEND_HELP + "; default: the environment's own")
    venv: str | None = opt("--venv", group="target", help="environment to check (default: install's location for the backend)")
    python: str | None = opt("--python", group="target",
                             help="check any environment by its python (a Docker image's, a conda env's)")
    skyrl: str | None = opt("--skyrl", metavar="VERSION", help="judge against this SkyRL release (default: the environment's own)")
    no_gpu_probe: bool = opt("--no-gpu-probe", kind="switch", help="skip the kernel and torch probes")
    fail_on: str = opt("--fail-on", default="any", metavar="any|environment",
                       help="exit 1 on any error (default), or only where install fails too: artifact, release and gpu "
                            "blockers are reported, not failed on (a Docker build's doctor step)")
    ray: str | None = opt("--ray", kind="optional", metavar="ADDRESS", help="check every node of a Ray cluster")
    model: str | None = opt("--model", metavar="SIZE|DIR",
                            help="will a model of this size (7B, 0.5B) or this local model folder fit the GPUs?")
    timeout: float | None = opt("--timeout", number=True, help="seconds to wait for each node (with --ray)")


REQUESTS: dict[str, type[Request]] = {r.command: r for r in (
    ProfilesRequest, LockRequest, InstallRequest, DoctorRequest, CheckCompatRequest, UpgradeRequest, BundleRequest,
    DockerfileRequest, RollbackRequest)}

HELP = {
    "profiles": "list backend profiles and their pins",
    "lock": "resolve a profile into a PEP 751 lockfile",
    "install": "build a verified environment for a backend",
    "bundle": "pack a lock and every file it needs into one archive",
    "upgrade": "move an environment forward: plan, check, build, swap",
    "rollback": "point an environment back at its previous generation",
    "check-compat": "can these packages live with a backend? (installs nothing)",
    "dockerfile": "write a Docker build context that installs a backend's lock",
    "doctor": "check the system, an environment and the GPUs",
}
