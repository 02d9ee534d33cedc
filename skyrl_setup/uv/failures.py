"""What a failed uv run means: an unsatisfiable resolution, a cache miss while offline, or another failure.

uv writes no machine-readable error (up to 0.13 its JSON output is for listings only), so a failure
is read in this order, most reliable first:

1. The exit status. 2: an error uv raised itself (bad usage, a network or file error), never a
   resolver's verdict. 1: an operation uv reported as failed (no solution, a build or a download
   that failed).
2. The report's layout. One top-level error (`error: ...`, or `× ...` in the boxed layout that uv
   0.9 writes even to a pipe), its causes (`cause:`, `Caused by:`, `├─▶`, `╰─▶`) and hints
   (`hint:`), each wrapped at any width: read as whole parts with whitespace joined, so a phrase
   split over two lines still matches, and a phrase counts only in the part the table names.
3. Phrases, only those of PHRASES, each checked against the real uv of the versions it names
   (tests/test_uv_backend.py makes uv produce every one against the local test index).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from skyrl_setup.redact import redact

# Exit statuses of uv, checked by running it (tests/test_uv_backend.py) with the versions of CHECKED.
EXIT_FAILURE = 1  # the operation failed and uv reported why (resolution, build, download)
EXIT_ERROR = 2  # uv itself errored: usage, network, filesystem

# every phrase below was checked against uv 0.9.0, 0.10.12, 0.11.33, 0.12.24 and 0.13.9 (the newest of each minor
# but 0.9, whose oldest is the floor): a uv past 0.13 fails tests/test_uv_backend.py until they are re-checked
CHECKED = ">=0.9.0,<0.14"


@dataclass(frozen=True)
class Phrase:
    kind: str  # what the failure is: no-solution / offline-miss / hash-mismatch
    part: str  # where in the report it counts: error (the top-level line), cause, hint
    text: str
    checked: str  # the uv versions (a PEP 440 range) this phrase was seen in, for this failure
    example: str  # the failure that shows it; tests/test_uv_backend.py makes it happen


PHRASES = (
    Phrase("no-solution", "error", "No solution found when resolving dependencies", CHECKED,
           "requirements that exclude each other (old-hydra-plugin==1.0 with hydra-core==1.3.2)"),
    Phrase("offline-miss", "cause", "not found in the cache", CHECKED,
           "a package by name or by hash-pinned URL under UV_OFFLINE, with an empty cache"),
    Phrase("offline-miss", "hint", "the network was disabled", CHECKED,
           "a package by name or by hash-pinned URL under UV_OFFLINE, with an empty cache"),
    Phrase("offline-miss", "cause", "Network connectivity is disabled", CHECKED,
           "resolving a requirement given by URL (a required artifact) under UV_OFFLINE, with an empty cache"),
    Phrase("hash-mismatch", "cause", "Hash mismatch for", CHECKED,
           "a file whose bytes differ from the sha256 it is pinned to"),
)

OFFLINE_HINT = ("uv is offline (UV_OFFLINE) and its cache lacks these files: unset UV_OFFLINE, "
                "or install with --from-bundle FILE made where the index is reachable")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BOX = re.compile(r"[│╰├─▶×]")
_CAUSE = ("cause:", "Caused by:", "├─▶", "╰─▶")


@dataclass(frozen=True)
class Report:
    """uv's report of its first error, each part with its wrapped lines joined."""
    error: str = ""
    causes: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()

    def part(self, name: str) -> tuple[str, ...]:
        return {"error": (self.error,), "cause": self.causes, "hint": self.hints}[name]


def _flat(lines: list[str]) -> str:
    return " ".join(_BOX.sub(" ", " ".join(lines)).split())


def parse(stderr: str) -> Report:
    parts: list[tuple[str, list[str]]] = []  # (error|cause|hint, lines), of the first error only
    for raw in _ANSI.sub("", stderr).splitlines():
        line = raw.strip()
        outer = len(raw) - len(raw.lstrip()) <= 2  # deeper lines are wrapped text or a build's own output
        if outer and line.startswith(("error:", "×")):
            if any(kind == "error" for kind, _ in parts):
                break  # a second error: the first is the one that failed the run
            parts.append(("error", [line.removeprefix("error:").lstrip("× ")]))
        elif not parts:
            continue  # progress lines before the error ("Resolved 3 packages", "Building x")
        elif outer and line.startswith(_CAUSE):
            head = next(p for p in _CAUSE if line.startswith(p))
            parts.append(("cause", [line[len(head):]]))
        elif line.startswith("hint:"):
            parts.append(("hint", [line.removeprefix("hint:")]))
        else:
            parts[-1][1].append(line)  # a wrapped line, a "│ " continuation, a captured [stderr] block
    return Report(next((_flat(ls) for k, ls in parts if k == "error"), ""),
                  tuple(_flat(ls) for k, ls in parts if k == "cause"),
                  tuple(_flat(ls) for k, ls in parts if k == "hint"))


def phrases_in(report: Report) -> tuple[Phrase, ...]:
    return tuple(p for p in PHRASES if any(p.text in text for text in report.part(p.part)))


def classify(returncode: int, stderr: str) -> str:
    """ok / offline-miss / conflict / hash-mismatch / failed."""
    if returncode == 0:
        return "ok"
    kinds = {p.kind for p in phrases_in(parse(stderr))}
    if "offline-miss" in kinds:  # uv words a cache miss as "no solution": it is not a conflict
        return "offline-miss"
    if returncode == EXIT_FAILURE and "no-solution" in kinds:
        return "conflict"
    if "hash-mismatch" in kinds:
        return "hash-mismatch"
    return "failed"


def short_cause(stderr: str) -> str:
    """uv's explanation reduced to its cause, whatever its layout (box drawing on a TTY, `cause:` lines off it)."""
    text = redact(_ANSI.sub("", stderr))
    flat = " ".join(re.sub(r"[│╰─▶×]", " ", text).split())
    m = re.search(r"(Because .+?\.)(?=\s|$)", flat)
    if m:
        return m.group(1)
    causes = [re.split(r"Caused by:|cause:", ln, maxsplit=1)[1].strip()
              for ln in text.splitlines() if "Caused by:" in ln or ln.strip().startswith("cause:")]
    errors = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(("error:", "×"))]
    parts = [e.lstrip("× ").removeprefix("error: ") for e in errors[:1]]
    with_url = [c for c in causes if "://" in c]
    for c in with_url[:1] + causes[-1:]:  # where it failed (the URL), and why (the innermost cause)
        if c not in parts:
            parts.append(c)
    if parts:
        return ": ".join(parts)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "uv failed with no message"
