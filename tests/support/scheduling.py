"""How `make test` spreads the suite over xdist workers (--dist loadgroup).

The workers order their tests (tests/conftest.py: the real-PyPI ones first, then the groups of tests sharing a
module-scoped fixture, then the rest) and name each grouped test's group in a file beside their own temporary
folders; the controller's scheduler below hands the queue out in that order, a group as one unit (to one worker,
which builds the module's fixture once), each other test on its own (to whichever worker is free next).

xdist's own loadgroup scheduler carries the group in the test's node ID, a suffix that pytest 9.2's structured
node IDs drop (pytest-dev/pytest-xdist#1386: every test then goes anywhere), and sorts the queue by group size,
which would put the real-PyPI tests after every group.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

GROUPS_FILE = "xdist-groups.json"


def _controller_basetemp(config) -> Path:
    """The run's base temporary folder: the controller's; each worker's is a folder in it (popen-gwN)."""
    base = config._tmp_path_factory.getbasetemp()  # what the tmp_path_factory fixture serves
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def publish_groups(config, groups: dict[str, str]) -> None:
    """From a worker, once its collection is ordered: node ID -> group. Every worker collects the same tests and
    writes the same map (atomically), before it reports its collection: the controller reads it after all did."""
    path = _controller_basetemp(config) / GROUPS_FILE
    tmp = path.with_name(f"{path.name}.{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    tmp.write_text(json.dumps(groups), encoding="utf-8")
    os.replace(tmp, path)


class OrderedGroups(LoadScopeScheduling):
    """LoadScopeScheduling whose units are the published groups, else single tests, queued in the workers'
    collection order (never resorted by size)."""

    def __init__(self, config, log=None):
        super().__init__(config, log)
        config.option.loadscopereorder = False  # the workers' order is the plan
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if nodeid.rfind("@") > nodeid.rfind("]"):  # a pytest where xdist's own suffix survives
            return nodeid.split("@")[-1]
        if self._groups is None:
            path = _controller_basetemp(self.config) / GROUPS_FILE
            self._groups = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        return self._groups.get(nodeid, nodeid)
