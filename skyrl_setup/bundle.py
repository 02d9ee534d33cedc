"""Offline bundles: one archive holding a lock, its profile and every file the lock names.

An air-gapped cluster gets the exact environment: `skyrl-setup bundle` on a machine that
reaches the indexes (or their mirrors), `skyrl-setup install --from-bundle` where nothing
does. Every file's sha256 is checked when the bundle is made and again when it is opened;
uv checks the lock's hashes once more while installing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import httpx

from skyrl_setup import __version__
from skyrl_setup.artifacts import ArtifactPlan
from skyrl_setup.envstore import now_iso
from skyrl_setup.errors import OperationError, UsageError
from skyrl_setup.lockfile import Lock
from skyrl_setup.mirrors import Mirrors, rewrite_lock_text
from skyrl_setup.redact import redact

MANIFEST = "bundle.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, dest: Path, sha256: str | None, client: httpx.Client, mirrors: Mirrors) -> None:
    real = mirrors.rewrite(url)
    try:
        with client.stream("GET", real) as r:
            if r.status_code != 200:
                raise OperationError(f"cannot download {redact(real)}: HTTP {r.status_code}", "check the index or your mirror")
            with open(dest, "wb") as fh:
                for chunk in r.iter_bytes(1 << 20):
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        raise OperationError(f"cannot download {redact(real)}: {type(exc).__name__}: {redact(str(exc))}", "check the network or your mirror") from None
    if sha256 and _sha256(dest) != sha256:
        raise OperationError(f"{dest.name} from {redact(real)} does not match the lock's sha256", "the mirror serves other bytes: fix or bypass it")


def create(lock: Lock, profile_path: Path, artifacts: tuple[ArtifactPlan, ...], out: Path, *, backend: str,
           variant: str, platform: str, progress, mirrors: Mirrors, release: str | None = None) -> dict:
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="skyrl-bundle-") as tmp:
        root = Path(tmp)
        (root / "wheels").mkdir()
        with httpx.Client(timeout=60, follow_redirects=True) as client:
            for i, p in enumerate(lock.packages, 1):
                if not p.url:
                    raise UsageError(f"{p.name} in {lock.path.name} has no URL (a local path or VCS source)", "bundle a lock of index packages")
                name = p.url.rsplit("/", 1)[-1].split("#")[0]
                progress(f"[{i}/{len(lock.packages)}] {name}")
                _download(p.url, root / "wheels" / name, p.sha256, client, mirrors)
                files[f"wheels/{name}"] = _sha256(root / "wheels" / name)
            for a in artifacts:
                if a.status == "unreachable":
                    continue
                name = Path(a.location).name if a.status == "find-links" else a.location.rsplit("/", 1)[-1]
                if a.status == "find-links":
                    shutil.copyfile(a.location, root / "wheels" / name)
                else:
                    _download(a.location, root / "wheels" / name, None, client, mirrors)
                files[f"wheels/{name}"] = _sha256(root / "wheels" / name)
        shutil.copyfile(lock.path, root / lock.path.name)
        shutil.copyfile(profile_path, root / f"{backend}.toml")  # a profile's file name is its backend
        manifest = {"format": 1, "tool_version": __version__, "created": now_iso(), "backend": backend, "cuda": variant,
                    "platform": platform, "lock": lock.path.name, "lock_sha256": lock.sha256, "profile": f"{backend}.toml",
                    "skyrl_release": release, "profile_sha256": _sha256(root / f"{backend}.toml"), "files": files,
                    "artifacts": [a.name for a in artifacts if a.status != "unreachable"]}
        (root / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        part = out.with_name(out.name + ".part")
        with tarfile.open(part, "w") as tf:  # wheels are compressed already
            for path in sorted(root.rglob("*")):
                tf.add(path, arcname=str(path.relative_to(root)), recursive=False)
        os.replace(part, out)
    return manifest


def open_bundle(path: Path, dest: Path) -> dict:
    """Unpack and verify a bundle into `dest`; return its manifest."""
    try:
        with tarfile.open(path) as tf:
            for m in tf.getmembers():
                if m.issym() or m.islnk() or m.name.startswith(("/", "..")) or ".." in Path(m.name).parts:
                    raise UsageError(f"{path}: unsafe member {m.name!r}", "use a bundle made by skyrl-setup bundle")
            tf.extractall(dest)
    except (OSError, tarfile.TarError) as exc:
        why = str(exc).splitlines()[0].rstrip(":") if str(exc) else type(exc).__name__  # tarfile lists every method it tried
        raise UsageError(f"{path}: not a readable bundle ({why})", "make one with `skyrl-setup bundle`") from None
    try:
        manifest = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(f"{path}: no valid {MANIFEST}", "make one with `skyrl-setup bundle`") from None
    for rel, digest in manifest.get("files", {}).items():
        f = dest / rel
        if not f.is_file() or _sha256(f) != digest:
            raise UsageError(f"{path}: {rel} is missing or does not match its sha256", "the bundle is corrupt: copy it again")
    if _sha256(dest / manifest["lock"]) != manifest["lock_sha256"]:
        raise UsageError(f"{path}: the lock does not match its sha256", "the bundle is corrupt: copy it again")
    return manifest


def local_lock(dest: Path, manifest: dict) -> Path:
    """The bundle's lock with every URL pointing at the unpacked files."""
    src = dest / manifest["lock"]
    pairs = []
    text = src.read_text(encoding="utf-8")
    import re

    for url in re.findall(r'url = "([^"]+)"', text):
        name = url.rsplit("/", 1)[-1].split("#")[0]
        if (dest / "wheels" / name).is_file():
            pairs.append((url, (dest / "wheels" / name).as_uri()))
    out = dest / "pylock.bundle.toml"
    out.write_text(rewrite_lock_text(text, pairs), encoding="utf-8")
    return out
