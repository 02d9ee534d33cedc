"""`skyrl-setup profiles`: each backend, and for its main packages three columns: what the version
matrix asks for, what SkyRL's own lock tested, what this tool's lock installs; each difference
explained in one line."""

from __future__ import annotations

from skyrl_setup import profiles
from skyrl_setup.requests import ProfilesRequest
from skyrl_setup.results import Result
from skyrl_setup.ui import UI


def rows(p) -> list[dict]:
    """One row per main package of a profile: matrix / SkyRL tested / installed, and why they differ."""
    out = []
    for name in dict.fromkeys((*p.main_packages, *p.matrix)):
        installed = p.packages.get(name, "").lstrip("=") or None
        tested = p.tested.get(name)
        matrix = p.matrix.get(name)
        if not (installed or tested or matrix):
            continue
        out.append({"package": name, "matrix": matrix, "skyrl_tested": tested, "installs": installed,
                    "why": p.differences.get(name, "")})
    return out


def run(req: ProfilesRequest, ui: UI) -> Result:
    docs = []
    for p in profiles.load_all():
        source = (f"SkyRL's lock ({p.skyrl_extra} extra), routes: {', '.join(p.routes)}" if p.from_skyrl
                  else "the version matrix's pins")
        docs.append({**p.summary_json(), "comparison": rows(p), "versions_from": source, "notes": list(p.notes)})
    return Result("profiles", {"profiles": docs})
