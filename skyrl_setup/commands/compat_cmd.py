"""`skyrl-setup check-compat`: can these backends and packages live in one environment?"""

from __future__ import annotations

from rich.markup import escape

from skyrl_setup import profiles
from skyrl_setup.commands import CommandResult
from skyrl_setup.errors import ExitCode
from skyrl_setup.resolver.check import check_compat
from skyrl_setup.target import Target


def run(args, reporter) -> CommandResult:
    backends = args.backend or ["sglang"]
    loaded = [profiles.load(b) for b in backends]
    variant = args.cuda or loaded[0].variants[0]
    res = check_compat(loaded, list(args.specs), target=Target.for_host(f"{loaded[0].python}.0", variant))
    doc = {"backends": backends, "additions": list(args.specs), **res.to_json()}
    if res.ok:
        key = ", ".join(f"{n} {v}" for n, v in res.pins.items() if n in ("torch", "sglang", "vllm", "flashinfer-python", "sgl-kernel", "triton"))
        reporter.print(f"[green]✓[/] compatible with the {' + '.join(backends)} profile: {escape(key)} "
                       f"[dim]({res.seconds:.2f} s, {res.requests} index requests)[/]")
        return CommandResult(doc)
    c = res.conflict
    reporter.error(c.sentence, c.hint)
    if reporter.verbose:
        for line in c.chain:
            reporter.print(f"  [dim]{escape(line)}[/]")
    return CommandResult(doc, ExitCode.CONFLICT)
