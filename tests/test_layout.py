"""The house (issue 26): folders are the pipeline's stages, no import runs back up, the top level stays small.

Read from the source with ast, imports inside functions included: an import hidden in a function still ties the
two modules together.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "skyrl_setup"
MAX_TOP_LEVEL = 12
MAX_FLOORS = 10


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(ROOT.rglob("*.py")):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


@cache
def _graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {m: set() for m in MODULES}
    for m, p in MODULES.items():
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
                continue  # walked anyway below; such imports are filtered by their line
            names = []
            if isinstance(n, ast.Import):
                names = [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom) and n.level == 0 and n.module:
                names = [f"{n.module}.{a.name}" if f"{n.module}.{a.name}" in MODULES else n.module for a in n.names]
            for t in names:
                while t and t not in MODULES:
                    t = t.rpartition(".")[0]
                if t and t not in (m, "skyrl_setup"):
                    g[m].add(t)
    for m, p in MODULES.items():  # imports for type checkers only run nowhere
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for n in ast.walk(tree):
            if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
                for s in ast.walk(n):
                    if isinstance(s, ast.ImportFrom) and s.module:
                        g[m].discard(s.module)
    return g


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def _package(m: str) -> str:
    parts = m.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (ROOT / parts[1]).is_dir()) else m


def test_no_module_imports_one_that_imports_it_back():
    assert _cycles(_graph()) == []


def test_no_stage_imports_one_that_imports_it_back():
    g: dict[str, set[str]] = {}
    for m, targets in _graph().items():
        g.setdefault(_package(m), set()).update(_package(t) for t in targets if _package(t) != _package(m))
        for t in targets:
            g.setdefault(_package(t), set())
    assert _cycles(g) == []


def test_the_module_graph_has_at_most_ten_floors():
    g = _graph()

    @cache
    def floor(m: str) -> int:  # 1 for a module that imports none of ours
        return 1 + max((floor(t) for t in g[m]), default=0)

    floors = {m: floor(m) for m in g}
    top = max(floors.values())
    assert top <= MAX_FLOORS, sorted(floors.items(), key=lambda kv: -kv[1])[:5]


def test_the_top_level_holds_at_most_twelve_modules():
    flat = sorted(p.stem for p in ROOT.glob("*.py"))
    assert len(flat) <= MAX_TOP_LEVEL, flat


def test_every_child_process_dies_with_the_tool():
    """README's promise, no orphan keeps running: every subprocess the tool starts asks for PR_SET_PDEATHSIG
    (proc.die_with_parent). The probe scripts run inside the target interpreter and start nothing of their own."""
    loose = []
    for m, p in MODULES.items():
        if m.startswith("skyrl_setup.probe.") and m.endswith("_script"):
            continue
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(n, ast.Call) and ast.unparse(n.func) in ("subprocess.run", "subprocess.Popen", "subprocess.check_output",
                                                                   "subprocess.call", "subprocess.check_call"):
                if not any(k.arg == "preexec_fn" and "die_with_parent" in ast.unparse(k.value) for k in n.keywords):
                    loose.append(f"{p.relative_to(ROOT.parent)}:{n.lineno}")
    assert loose == []
