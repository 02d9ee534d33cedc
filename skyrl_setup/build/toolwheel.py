"""skyrl-setup as a wheel for a Docker build context: the package's own shipped files and the host's profiles.

Only what the package ships goes in: a lockfile a user made into the data folder holds private index URLs,
perhaps credentials, and everything in the wheel ends up in an image layer. From a source checkout the
shipped files are the ones git knows (code: tracked or not ignored, as a build would pack it; lockfiles:
committed ones only); from an installed skyrl-setup, the ones its RECORD lists.
Built here, not by `uv build`: a build fetches its backend (hatchling) from an index, which a host writing
a context offline or behind a mirror may not reach, and an installed skyrl-setup has no source tree to build.
uv's own backend (uv_build) builds offline, but packs what is on disk (a user's private lockfile too), maps no
top-level folder (profiles/, lockfiles/) into skyrl_setup/_data and follows no link to one; and the wheel
carries this host's profiles, not the tree's: its members and RECORD would be rewritten here all the same.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import subprocess
import zipfile
from importlib import metadata
from os import PathLike
from pathlib import Path
from typing import cast

from skyrl_setup import __version__
from skyrl_setup.catalog.data import data_dir, package_roles_file
from skyrl_setup.proc import die_with_parent

PACKAGE = Path(__file__).resolve().parent.parent  # skyrl_setup/: this module sits one folder below it
DATA = "skyrl_setup/_data"
_EPOCH = (2025, 1, 1, 0, 0, 0)  # fixed timestamps: the same files give the same wheel, byte for byte


def wheel_name() -> str:
    return f"skyrl_setup-{__version__}-py3-none-any.whl"


def _digest(blob: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(blob).digest()).rstrip(b"=").decode()


def _git(root: Path, *args: str) -> list[str] | None:
    try:
        p = subprocess.run(["git", "-C", str(root), "ls-files", "-z", *args], check=False, capture_output=True, timeout=60,
                           preexec_fn=die_with_parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return [n for n in p.stdout.decode("utf-8", "surrogateescape").split("\0") if n] if p.returncode == 0 else None


def _from_checkout() -> dict[str, Path] | None:
    root = PACKAGE.parent
    if not ((root / "pyproject.toml").is_file() and (root / ".git").exists()):
        return None
    code = _git(root, "--cached", "--others", "--exclude-standard", "--", PACKAGE.name)
    locks = _git(root, "--cached", "--", "lockfiles")
    if code is None or locks is None:
        return None
    files = {n: root / n for n in code if not n.startswith(f"{DATA}/")}
    files.update({f"{DATA}/{n}": root / n for n in locks if n.endswith(".toml")})
    return files


def _located(dist: metadata.Distribution, file: str | PathLike[str]) -> Path:
    # typeshed says SimplePath; an installed (path-based) distribution gives a pathlib.Path
    return Path(cast("PathLike[str]", dist.locate_file(file)))


def _from_record() -> dict[str, Path] | None:
    for dist in metadata.distributions(name="skyrl-setup"):
        if _located(dist, "skyrl_setup/__init__.py").resolve() != PACKAGE / "__init__.py":
            continue  # another copy on the path (an editable install next to this one)
        files: dict[str, Path] = {}
        for f in dist.files or ():
            name, path = f.as_posix(), _located(dist, f)
            if not name.startswith("skyrl_setup/") or not path.is_file():
                continue
            # a shipped lockfile counts only as shipped: one overwritten since is the user's
            if name.startswith(f"{DATA}/lockfiles/") and not (f.hash and f.hash.value == _digest(path.read_bytes())):
                continue
            files[name] = path
        return files
    return None


def shipped_files() -> dict[str, Path]:
    """Wheel member name -> file: the package's code and its shipped lockfiles (profiles and releases: data_files)."""
    files = _from_checkout() or _from_record()
    if files is None:  # neither a checkout git can read nor a recorded install: the code alone, no lockfiles
        files = {p.relative_to(PACKAGE.parent).as_posix(): p for p in PACKAGE.rglob("*.py")}
    keep = {n: p for n, p in files.items() if p.is_file() and "__pycache__" not in n and ".dist-info/" not in n}
    return {n: p for n, p in keep.items() if not n.startswith(f"{DATA}/") or n.startswith(f"{DATA}/lockfiles/")}


def data_files() -> dict[str, Path]:
    """The profiles, releases and package roles this host judges by (SKYRL_SETUP_DATA_DIR's, where set): the image judges by them too."""
    data = data_dir()
    files = {f"{DATA}/{sub}/{p.relative_to(data / sub).as_posix()}": p
             for sub in ("profiles", "releases") for p in sorted((data / sub).rglob("*.toml")) if p.is_file()}
    return {**files, f"{DATA}/package-roles.toml": package_roles_file()}


def tool_wheel() -> tuple[str, bytes]:
    """The wheel's file name and content."""
    files = {n: p.read_bytes() for n, p in sorted({**shipped_files(), **data_files()}.items())}
    info = f"skyrl_setup-{__version__}.dist-info"
    try:
        requires = [r for r in (metadata.requires("skyrl-setup") or []) if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        requires = []
    meta = ["Metadata-Version: 2.1", "Name: skyrl-setup", f"Version: {__version__}", "Requires-Python: >=3.10,<3.14"]
    files[f"{info}/METADATA"] = ("\n".join(meta + [f"Requires-Dist: {r}" for r in requires]) + "\n\n").encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: skyrl-setup\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = b"[console_scripts]\nskyrl-setup = skyrl_setup.cli:main\n"
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, blob in files.items():
        writer.writerow([name, f"sha256={_digest(blob)}", len(blob)])
    writer.writerow([f"{info}/RECORD", "", ""])
    files[f"{info}/RECORD"] = record.getvalue().encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in files.items():
            zi = zipfile.ZipInfo(name, _EPOCH)
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, blob)
    return wheel_name(), buf.getvalue()
