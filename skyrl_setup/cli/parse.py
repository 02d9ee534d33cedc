"""argv → one typed request (skyrl_setup/commands/requests.py) and the output options. The only argparse here."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields

from skyrl_setup import __version__
from skyrl_setup.commands.requests import HELP, REQUESTS, Request
from skyrl_setup.errors import UsageError


@dataclass(frozen=True)
class Output:
    json: bool = False
    verbose: bool = False
    debug: bool = False


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # `--jso` is a typo, not --json
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line and a hint, exit 2, never argparse's usage dump
        raise UsageError(f"{self.prog}: {message}", f"see `{self.prog} --help`")


def _global_flags(p: argparse.ArgumentParser, default) -> None:
    p.add_argument("--json", action="store_true", default=default,
                   help="write one JSON document to stdout (README: 'JSON output')")
    p.add_argument("-v", "--verbose", action="store_true", default=default, help="more detail")
    p.add_argument("--debug", action="store_true", default=default, help="show tracebacks")


def _add(p: argparse.ArgumentParser, groups: dict, f) -> None:
    meta = f.metadata
    target = p
    if meta["group"]:
        if meta["group"] not in groups:  # one group per name: an empty group breaks --help
            groups[meta["group"]] = p.add_mutually_exclusive_group()
        target = groups[meta["group"]]
    shown = argparse.SUPPRESS if meta["hidden"] else meta["help"]
    kind = meta["kind"]
    if kind == "positional":
        target.add_argument(f.name, nargs="*", metavar=meta["metavar"], help=shown)
        return
    kw: dict = {"dest": f.name, "help": shown}
    if meta["metavar"]:
        kw["metavar"] = meta["metavar"]
    if kind == "switch":
        kw["action"] = "store_true"
        kw.pop("metavar", None)
    elif kind == "many":
        kw["action"] = "append"
    elif kind == "optional":
        kw.update(nargs="?", const="auto")
    else:
        kw["default"] = f.default
        if meta["number"]:
            kw["type"] = float
    target.add_argument(*meta["flags"], **kw)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """`only`: the one subcommand argv can select; the others are listed (top-level --help) without their flags."""
    parser = _Parser(prog="skyrl-setup", description="Set up and check SkyRL environments.")
    _global_flags(parser, default=False)
    parser.add_argument("--version", action="version", version=f"skyrl-setup {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, cls in REQUESTS.items():
        p = sub.add_parser(name, help=HELP[name])
        if only is not None and name != only:
            continue
        _global_flags(p, default=argparse.SUPPRESS)  # a subcommand's default would overwrite `skyrl-setup --json CMD`
        groups: dict = {}
        for f in fields(cls):
            _add(p, groups, f)
    return parser


def selected(argv: list[str]) -> str | None:
    """The subcommand argparse will select: the first word that is not a flag (no global flag takes a value)."""
    word = next((a for a in argv if not a.startswith("-") or a == "--"), None)
    return word if word in REQUESTS else None


def parse(argv: list[str]) -> tuple[Request, Output]:
    command = selected(argv)
    ns = build_parser(only=command).parse_args(argv)
    if not ns.command:
        raise UsageError("no command given", "try `skyrl-setup install` or `skyrl-setup --help`")
    cls = REQUESTS[ns.command]
    values = {}
    for f in fields(cls):
        v = getattr(ns, f.name)
        values[f.name] = tuple(v or ()) if f.metadata["kind"] in ("many", "positional") else v
    return cls(**values), Output(json=ns.json, verbose=ns.verbose, debug=ns.debug)
