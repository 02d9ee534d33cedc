"""`skyrl-setup profiles`: each backend, the SkyRL release it stands on (the default, or the one --skyrl
names) beside the newest release that has it, and for its main packages three columns: what the version
matrix asks for, what SkyRL's own lock tested, what this tool's lock installs; each difference explained
in one line."""

from __future__ import annotations

from skyrl_setup.catalog import profiles, releases
from skyrl_setup.commands.requests import ProfilesRequest
from skyrl_setup.commands.results import Result
from skyrl_setup.commands.shapes import ProfilesData
from skyrl_setup.commands.ui import UI


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


def _release(r, backend: str) -> dict | None:
    return None if r is None else {"id": r.id, "label": r.label, "date": r.date, "cuda": list(r.variants_for(backend)),
                                   "defects": [d.where for d in r.defects_for(backend)]}


def release_rows(p, catalog) -> dict:
    """Which release the shown pins are from, the one used when --skyrl is not given, and the newest with the backend."""
    return {"shown": _release(p.release, p.name), "default": _release(releases.default_for(p.name, catalog), p.name),
            "newest": _release(releases.newest_for(p.name, catalog), p.name),
            "all": [r.id for r in releases.having(p.name, catalog)]}


def run(req: ProfilesRequest, ui: UI) -> Result:
    catalog = releases.catalog()
    docs, missing = [], []
    for p in profiles.load_all(req.skyrl):
        source = (f"SkyRL's lock ({p.skyrl_extra} extra), routes: {', '.join(p.routes)}" if p.from_skyrl
                  else "the version matrix's pins")
        doc = {**p.summary_json(), "comparison": rows(p), "versions_from": source, "notes": list(p.notes),
               "releases": release_rows(p, catalog), "lockfiles": "present"}
        if p.from_skyrl and "torch" not in p.packages:  # its pins are the lock's: without the lock nothing is known
            checkout_only = p.release is not None and releases.needs_checkout(p.release, p.name)
            doc.update(torch=None, lockfiles="checkout only" if checkout_only else "missing")
            doc["versions_from"] = (f"your checkout only ({checkout_only})" if checkout_only else
                                    f"nothing: no committed lockfile in {p.lock_dir}; make them with `skyrl-setup lock --from-skyrl DIR`")
            if not checkout_only:
                missing.append(p.name)
        docs.append(doc)
    # a listing succeeds; `doctor` and `install` are where a missing lockfile is an error
    return Result("profiles", ProfilesData(profiles=docs, skyrl=req.skyrl, missing_lockfiles=missing))
