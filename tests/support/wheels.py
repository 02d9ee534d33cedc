"""Build small, real, deterministic wheels (PEP 427) named like the SkyRL stack."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from packaging.utils import canonicalize_name

EPOCH = (2025, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class FakeDist:
    name: str
    version: str
    requires: tuple[str, ...] = ()
    module: str | None = None  # import name; default: the name with _ for -
    code: str = ""  # extra source for the module's __init__.py
    files: dict[str, str] = field(default_factory=dict)  # more files: path -> text
    upload_time: str = "2025-12-01T00:00:00Z"
    tag: str = "py3-none-any"
    requires_python: str | None = None
    sdist: bool = False  # publish an sdist only (files must hold pyproject.toml and its backend)
    zip64: bool = False  # written with the ZIP64 records a wheel past 4 GiB has (offsets and sizes in extra fields)

    @property
    def import_name(self) -> str:
        return self.module or self.name.replace("-", "_")

    @property
    def dist_name(self) -> str:
        return canonicalize_name(self.name).replace("-", "_")

    @property
    def filename(self) -> str:
        return f"{self.dist_name}-{self.version}-{self.tag}.whl"

    def metadata(self) -> str:
        lines = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}"]
        if self.requires_python:
            lines.append(f"Requires-Python: {self.requires_python}")
        lines += [f"Requires-Dist: {r}" for r in self.requires]
        return "\n".join(lines) + "\n\n"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(dist: FakeDist, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    info = f"{dist.dist_name}-{dist.version}.dist-info"
    root = dist.import_name.split(".")[0]
    init = f"__version__ = {dist.version.split('+')[0]!r}\n" if "__version__" not in dist.code else ""
    contents: dict[str, bytes] = {}
    if not dist.import_name.startswith("_none"):
        contents[f"{root}/__init__.py"] = (init + dist.code).encode()
    for path, text in dist.files.items():
        contents[path] = text.encode()
    contents[f"{info}/METADATA"] = dist.metadata().encode()
    contents[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: skyrl-setup-tests\nRoot-Is-Purelib: true\nTag: {dist.tag}\n").encode()
    record = [_record_line(p, d) for p, d in contents.items()] + [f"{info}/RECORD,,"]
    contents[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = out_dir / dist.filename
    # zipfile moves a value to a ZIP64 extra field when it passes ZIP64_LIMIT; at 0 every offset and size past the
    # first does, so a small wheel is laid out as one of several GiB is
    limit = mock.patch.object(zipfile, "ZIP64_LIMIT", 0) if dist.zip64 else contextlib.nullcontext()
    with limit, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            zi = zipfile.ZipInfo(name, EPOCH)
            zi.external_attr = 0o644 << 16
            with zf.open(zi, "w", force_zip64=dist.zip64) as fh:
                fh.write(data)
    return path


def build_sdist(dist: FakeDist, out_dir: Path) -> Path:
    """A real sdist (PEP 625 name) with static metadata (PKG-INFO 2.2) and an in-tree build backend.

    `dist.files` holds the project's files, its backend among them; PKG-INFO has no Dynamic
    fields, so a resolver reads the metadata without building.
    """
    import io
    import tarfile

    out_dir.mkdir(parents=True, exist_ok=True)
    base = f"{dist.dist_name}-{dist.version}"
    files = dict(dist.files)
    files["PKG-INFO"] = dist.metadata().replace("Metadata-Version: 2.1", "Metadata-Version: 2.2")
    path = out_dir / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for name, text in sorted(files.items()):
            data = text.encode()
            ti = tarfile.TarInfo(f"{base}/{name}")
            ti.size, ti.mtime, ti.mode = len(data), 1735689600, 0o644
            tf.addfile(ti, io.BytesIO(data))
    return path
