"""How a running command talks to the person at the terminal without printing: progress lines,
a section shown before a long step (the plan before the build), and yes/no questions.

The CLI provides the real one (rich on stderr); commands only see this interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class UI(Protocol):
    def progress(self, line: str) -> None: ...  # a line from a stage or from uv
    def step(self, text: str) -> None: ...  # the start of a stage
    def warn(self, text: str) -> None: ...
    def show(self, view: str, data: Mapping) -> None: ...  # a named view of part of the result, drawn now
    def confirm(self, question: str) -> bool: ...  # False where nobody can answer


class Silent:
    """For callers with no terminal: everything dropped, every question answered no."""

    def progress(self, line: str) -> None:
        pass

    def step(self, text: str) -> None:
        pass

    def warn(self, text: str) -> None:
        pass

    def show(self, view: str, data: Mapping) -> None:
        pass

    def confirm(self, question: str) -> bool:
        return False
