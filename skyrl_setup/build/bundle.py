"""Offline bundles: one archive holding a lock, its profile and every file the lock names.

An air-gapped cluster gets the exact environment: `skyrl-setup bundle` on a machine that
reaches the indexes (or their mirrors), `skyrl-setup install --from-bundle` where nothing
does. Every file's sha256 is checked when the bundle is made and again when it is opened
(the lock's and the profile's too); uv checks the lock's hashes once more while installing.
A bundle is untrusted input until then: only regular files and folders are unpacked (tarfile's
'data' filter), and its manifest names only files inside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path

import httpx

from skyrl_setup import __version__
from skyrl_setup.detect.mirrors import Mirrors, rewrite_lock_text
from skyrl_setup.errors import OperationError, UsageError
from skyrl_setup.locks.pylock import Lock
from skyrl_setup.plan.artifacts import ArtifactPlan
from skyrl_setup.redact import redact
from skyrl_setup.safepaths import OWNER, reap_stamped, stamp, written_whole
from skyrl_setup.store.generations import now_iso

MANIFEST = "bundle.json"
FORMAT = 1
SHAPE = {"backend": str, "cuda": str, "lock": str, "lock_sha256": str, "profile": str, "profile_sha256": str, "files": dict}
REMAKE = "make one with `skyrl-setup bundle`"


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
    reap_leftovers()
    with tempfile.TemporaryDirectory(prefix="skyrl-bundle-") as tmp:
        root = Path(tmp)
        stamp(root)  # a killed run leaves its downloads here; the next bundle or install --from-bundle removes them
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
        manifest = {"format": FORMAT, "tool_version": __version__, "created": now_iso(), "backend": backend, "cuda": variant,
                    "platform": platform, "lock": lock.path.name, "lock_sha256": lock.sha256, "profile": f"{backend}.toml",
                    "skyrl_release": release, "profile_sha256": _sha256(root / f"{backend}.toml"), "files": files,
                    "artifacts": [a.name for a in artifacts if a.status != "unreachable"]}
        (root / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        # `out` comes from safepaths.output_file: a regular file or a new one, written whole by rename
        with written_whole(out) as fh, tarfile.open(fileobj=fh, mode="w") as tf:  # wheels are compressed already
            for path in sorted(root.rglob("*")):
                if path != root / OWNER:
                    tf.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return manifest


def reap_leftovers() -> list[str]:
    """The unpacked or half-made bundles of killed runs (gigabytes each) in the temporary folder."""
    return reap_stamped(Path(tempfile.gettempdir()).glob("skyrl-bundle-*"))


def open_bundle(path: Path, dest: Path) -> dict:
    """Unpack and verify a bundle into `dest` (an empty temporary folder); return its manifest."""
    reap_leftovers()
    stamp(dest)
    _regular_file(path)
    try:
        with tarfile.open(path) as tf:
            for m in tf.getmembers():
                if not (m.isfile() or m.isdir()) or not _inside(m.name) or m.name == OWNER:
                    what = "a link" if m.issym() or m.islnk() else "a device or FIFO" if m.isdev() else "not a plain file"
                    raise UsageError(f"{path}: unsafe member {m.name!r} ({what})", "use a bundle made by skyrl-setup bundle")
            if hasattr(tarfile, "data_filter"):
                tf.extractall(dest, filter="data")
            else:  # Python before 3.10.12: the members were checked above
                tf.extractall(dest)
    except (OSError, tarfile.TarError) as exc:
        why = str(exc).splitlines()[0].rstrip(":") if str(exc) else type(exc).__name__  # tarfile lists every method it tried
        raise UsageError(f"{path}: not a readable bundle ({why})", REMAKE) from None
    manifest = _manifest(path, dest)
    for rel, digest in manifest["files"].items():
        f = dest / rel
        if not f.is_file() or _sha256(f) != digest:
            raise UsageError(f"{path}: {rel} is missing or does not match its sha256", "the bundle is corrupt: copy it again")
    for key in ("lock", "profile"):
        if _sha256(dest / manifest[key]) != manifest[f"{key}_sha256"]:
            raise UsageError(f"{path}: its {key} {manifest[key]} does not match its sha256",
                             "the bundle is corrupt or was altered: copy it again from where it was made")
    return manifest


def _regular_file(path: Path) -> None:
    """A FIFO or a device is refused before it is opened: reading one would wait, or never end."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UsageError(f"--from-bundle {path}: {exc.strerror}", "give the path of a bundle made by `skyrl-setup bundle`") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, a FIFO or a socket)"
        raise UsageError(f"--from-bundle {path}: {kind}", "give the path of a bundle made by `skyrl-setup bundle`")


def _inside(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not name.startswith("/") and ".." not in parts and "\0" not in name


def _manifest(path: Path, dest: Path) -> dict:
    """bundle.json, checked for the shape this tool writes; every file it names is a file of the bundle."""
    try:
        doc = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(f"{path}: no valid {MANIFEST}", REMAKE) from None
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: its {MANIFEST} is not a JSON object", REMAKE)
    if doc.get("format") != FORMAT:
        raise UsageError(f"{path}: bundle format {doc.get('format')!r}; this skyrl-setup reads format {FORMAT}", REMAKE)
    for key, kind in SHAPE.items():
        if not isinstance(doc.get(key), kind):
            raise UsageError(f"{path}: its {MANIFEST} has no {key} ({'an object' if kind is dict else 'a string'})", REMAKE)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in doc["files"].items()):
        raise UsageError(f"{path}: its {MANIFEST} lists files that are not names with sha256 digests", REMAKE)
    if not isinstance(doc.get("skyrl_release"), (str, type(None))):
        raise UsageError(f"{path}: its {MANIFEST} has a skyrl_release that is not a string", REMAKE)
    for rel in (doc["lock"], doc["profile"], *doc["files"]):
        if not _inside(rel) or not (dest / rel).is_file():
            raise UsageError(f"{path}: its {MANIFEST} names {rel!r}, which is not a file in the bundle", REMAKE)
    return doc


def local_lock(dest: Path, manifest: dict) -> Path:
    """The bundle's lock with every URL pointing at the unpacked files."""
    src = dest / manifest["lock"]
    pairs = []
    text = src.read_text(encoding="utf-8")
    for url in re.findall(r'url = "([^"]+)"', text):
        name = url.rsplit("/", 1)[-1].split("#")[0]
        if (dest / "wheels" / name).is_file():
            pairs.append((url, (dest / "wheels" / name).as_uri()))
    out = dest / "pylock.bundle.toml"
    out.write_text(rewrite_lock_text(text, pairs), encoding="utf-8")
    return out
