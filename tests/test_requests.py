"""Typed requests: every flag parses into its request and writes itself back (what the cluster fan-out sends)."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest

from skyrl_setup.cli.parse import parse
from skyrl_setup.commands.requests import REQUESTS, DoctorRequest, InstallRequest

ROOT = Path(__file__).resolve().parents[1] / "skyrl_setup"


def _sample(f, i: int):
    kind = f.metadata["kind"]
    if kind == "switch":
        return True
    if kind == "many":
        return (f"a{i}==1", f"-b{i} starts with a dash")
    if kind == "positional":
        return (f"a{i}==1", f"b{i}>=2")
    if kind == "optional":
        return f"10.0.0.{i}:6379"
    if f.metadata["number"]:
        return 12.5 + i
    return f"-value-{i} with space"


def _every_flag_set(cls, exclude: str | None = None):
    values = {f.name: _sample(f, i) for i, f in enumerate(fields(cls)) if f.name != exclude}
    return cls(**values)


@pytest.mark.parametrize("command", sorted(REQUESTS))
def test_every_flag_round_trips(command):
    cls = REQUESTS[command]
    groups = {}
    for f in fields(cls):
        if f.metadata["group"]:
            groups.setdefault(f.metadata["group"], []).append(f.name)
    # mutually exclusive flags (doctor --venv / --python) are set one at a time
    variants = [None] + [name for names in groups.values() for name in names]
    for left_out in variants:
        req = _every_flag_set(cls, left_out)
        if any(sum(getattr(req, n) is not None for n in names) > 1 for names in groups.values()):
            continue
        back, _ = parse(req.to_argv())
        assert back == req, (req.to_argv(), back)
    assert parse([command])[0] == cls()  # defaults write nothing and parse back to the defaults


def test_optional_ray_without_address_and_dashed_specs():
    req, _ = parse(["install", "--ray", "--dry-run"])
    assert req.ray == "auto" and req.to_argv() == ["install", "--dry-run", "--ray"]
    req, _ = parse(["install", "--venv=-weird", "--with=-e/src/pkg"])
    assert parse(req.to_argv())[0] == req and req.venv == "-weird"
    req, _ = parse(["check-compat", "--", "-weird-but-valid"])
    assert parse(req.to_argv())[0] == req


def test_fan_out_sends_every_flag_but_the_drivers_own():
    """Issue 14, bug 1: `install --ray --dry-run` built on every node; --python, --project, --no-verify, --mirror,
    --require-gpu were dropped too, and `doctor --ray --python X` dropped --python."""
    req = InstallRequest(backends=("vllm",), dry_run=True, python="/opt/py/bin/python3.12", project="/src/skyrl",
                         no_verify=True, mirror=("https://a=https://b",), require_gpu=True, strict=True,
                         ray="head:6379", timeout=30.0)
    argv = req.for_nodes()
    assert parse(argv)[0] == InstallRequest(**{**req.__dict__, "ray": None, "timeout": None})
    flags = {a.split("=", 1)[0] for a in argv}
    assert {"--dry-run", "--python", "--project", "--no-verify", "--mirror", "--require-gpu", "--strict"} <= flags
    assert "--ray" not in flags and "--timeout" not in flags
    doc = DoctorRequest(python="/img/bin/python", ray="auto", no_gpu_probe=True)
    assert parse(doc.for_nodes())[0] == DoctorRequest(python="/img/bin/python", no_gpu_probe=True)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_the_layers_show_in_the_imports():
    """argparse and rich only in cli/; no command module imports another command module."""
    commands = {f"skyrl_setup.commands.{p.stem}" for p in (ROOT / "commands").glob("*.py")
                if p.stem not in {"__init__", "requests", "results", "shapes", "ui", "cluster"}}  # the rest: what the commands share
    for path in ROOT.rglob("*.py"):
        imported = _imports(path)
        if "cli" not in path.relative_to(ROOT).parts:
            assert not {m for m in imported if m == "argparse" or m == "rich" or m.startswith("rich.")}, path
        if path.parent.name == "commands":
            assert not (imported & commands), (path, imported & commands)


def test_commands_neither_print_nor_ask_nor_touch_the_environment():
    """A command talks through `ui` and returns a result: no print(), no input(), no os.environ writes."""
    for path in (ROOT / "commands").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("print", "input"), (path, node.lineno)
            if path.stem == "cluster":
                continue  # not a command: the Ray driver, which sets one of Ray's own variables before importing it
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("update", "setdefault", "pop"):
                assert ast.unparse(node.func.value) != "os.environ", (path, node.lineno)
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                assert not any(ast.unparse(t).startswith("os.environ") for t in targets), (path, node.lineno)
