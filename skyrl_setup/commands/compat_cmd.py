"""`skyrl-setup check-compat`: can these backends and packages live in one environment?

A conflict is an error (exit 3) with the same shape whichever command finds it
(`install --with` too): `error.details.conflict`.
"""

from __future__ import annotations

from skyrl_setup import paths as preflight
from skyrl_setup.catalog import DEFAULT_BACKEND, profiles
from skyrl_setup.commands.requests import CheckCompatRequest
from skyrl_setup.commands.results import Result
from skyrl_setup.commands.shapes import CheckCompatData
from skyrl_setup.commands.ui import UI
from skyrl_setup.detect.mirrors import Mirrors
from skyrl_setup.plan.basis import require_compatible
from skyrl_setup.plan.install import host_target


def run(req: CheckCompatRequest, ui: UI) -> Result:
    preflight.index_settings()
    backends = list(req.backends or [DEFAULT_BACKEND])
    loaded = [profiles.load(b, req.skyrl) for b in backends]
    target = host_target(loaded[0], None, req.cuda)
    res = require_compatible(loaded, list(req.specs), target=target, mirrors=Mirrors.load(), cuda=req.cuda)
    return Result("check-compat", CheckCompatData(backends=backends, additions=list(req.specs), target=target.to_json(),
                                                  compatible=res.ok, resolved=res.pins, seconds=round(res.seconds, 3),
                                                  requests=res.requests, judged_against=res.judged))
