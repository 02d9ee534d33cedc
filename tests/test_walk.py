"""The walk of one install request through the house (issue 26): how often it climbs back up.

A stage calls down into the floors below it (what it imports). A call into a module on a higher floor is a climb
back up: a callback (a stage reporting progress to the edge) or a value's method defined above. The issue's walk
of `install` climbed back up 14 times; at most 3 distinct climbs are allowed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache

from tests.conftest import REPO, mirror_map
from tests.test_layout import _graph

MAX_CLIMBS = 3


@cache
def _floors() -> dict[str, int]:
    g = _graph()

    @cache
    def floor(m: str) -> int:
        return 1 + max((floor(t) for t in g[m]), default=0)

    return {m: floor(m) for m in g}


def climbs(calls: list[list[str]]) -> list[tuple[str, str]]:
    """The distinct calls into a higher floor, in the order they first happened."""
    floors = _floors()
    out: list[tuple[str, str]] = []
    for a, b in calls:
        if a in floors and b in floors and floors[b] > floors[a] and (a, b) not in out:
            out.append((a, b))
    return out


def test_climbs_are_counted_from_the_floors():
    top = max(_floors(), key=_floors().get)
    bottom = min(_floors(), key=_floors().get)
    assert climbs([[bottom, top], [top, bottom], [bottom, top]]) == [(bottom, top)]


def test_one_install_walk_climbs_back_up_at_most_three_times(env, tmp_path, index):
    out = tmp_path / "walk.json"
    run_env = dict(env, SKYRL_SETUP_MIRRORS=mirror_map(index, assets=True))
    p = subprocess.run([sys.executable, str(REPO / "tests" / "support" / "walk.py"), str(out), "install", "--venv",
                        str(tmp_path / "env"), "--json"], capture_output=True, text=True, env=run_env, cwd=REPO, timeout=600)
    walk = json.loads(out.read_text())
    assert walk["exit"] == 0, p.stderr
    modules = {m for pair in walk["calls"] for m in pair}
    assert {"skyrl_setup.plan.install", "skyrl_setup.build.generation", "skyrl_setup.verify.verdict",
            "skyrl_setup.store.generations"} <= modules  # the whole pipeline was walked
    found = climbs(walk["calls"])
    assert len(found) <= MAX_CLIMBS, found
