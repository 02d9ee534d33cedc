"""Which GPU architectures a compiled CUDA extension carries, read from its fat binaries (no import, no GPU).

nvcc embeds a fat binary per translation unit (the `.nv_fatbin` section): a 16-byte header
(magic 0xBA55ED50, version 1, header size 0x10, size of what follows), then entries, each
with its own header: kind at +0 (1 PTX, 2 or 0x10 a cubin), the entry header's size at +4,
the payload's size at +8 (8 bytes), the SM architecture at +28 (90 for sm_90, 100 for
sm_100). This is the layout cuobjdump reads (public reverse-engineering notes, checked
against CUDA 11 to 13 binaries). A cubin for sm_XY runs on X.Y and later minors of major X;
PTX for compute_XY is JIT-compiled for any X.Y or newer.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = struct.pack("<I", 0xBA55ED50)
PTX, CUBINS = 1, (2, 0x10)


@dataclass(frozen=True)
class Arches:
    sass: frozenset[int] = field(default_factory=frozenset)  # 80, 90, 100: cubins
    ptx: frozenset[int] = field(default_factory=frozenset)  # PTX, JIT-compiled for newer GPUs

    def runs_on(self, major: int, minor: int) -> bool:
        cc = major * 10 + minor
        return any(a // 10 == major and a % 10 <= minor for a in self.sass) or any(a <= cc for a in self.ptx)

    def names(self) -> list[str]:
        return [f"sm_{a}" for a in sorted(self.sass)] + [f"compute_{a}" for a in sorted(self.ptx)]

    def __or__(self, other: Arches) -> Arches:
        return Arches(self.sass | other.sass, self.ptx | other.ptx)

    def __bool__(self) -> bool:
        return bool(self.sass or self.ptx)


def _walk(buf, start: int, end: int, sass: set, ptx: set) -> None:
    off = start
    while off + 32 <= end:
        kind, hsize, payload = struct.unpack_from("<HxxIQ", buf, off)
        if hsize < 32 or off + hsize > end:
            return
        arch = struct.unpack_from("<I", buf, off + 28)[0]
        if 10 <= arch <= 300:
            (ptx if kind == PTX else sass if kind in CUBINS else set()).add(arch)
        off += hsize + payload


def scan_bytes(buf) -> Arches:
    sass: set[int] = set()
    ptx: set[int] = set()
    pos = buf.find(MAGIC)
    while pos != -1:
        if pos + 16 <= len(buf):
            version, header, size = struct.unpack_from("<HHQ", buf, pos + 4)
            end = pos + 16 + size
            if version == 1 and header == 16 and end <= len(buf):
                _walk(buf, pos + 16, end, sass, ptx)
        pos = buf.find(MAGIC, pos + 4)
    return Arches(frozenset(sass), frozenset(ptx))


def scan_file(path: Path) -> Arches:
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return scan_bytes(mm)
    except (OSError, ValueError):  # unreadable, or empty (mmap refuses length 0)
        return Arches()


def container(entries: list[tuple[int, int]], payload: bytes = b"\0" * 8) -> bytes:
    """A fat binary holding (kind, arch) entries: for tests and for documenting the layout."""
    body = b""
    for kind, arch in entries:
        header = struct.pack("<HHIQIIII", kind, 0x0101, 64, len(payload), len(payload), 0, 0, arch).ljust(64, b"\0")
        body += header + payload
    return MAGIC + struct.pack("<HHQ", 1, 16, len(body)) + body
