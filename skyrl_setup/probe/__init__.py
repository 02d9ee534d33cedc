"""Probes run inside a target environment or against the GPU driver.

The scripts in this package import only the standard library at module level and turn
every failure into a value in their JSON output, never an exception: they must work in a
broken environment, which is exactly where they are needed. They are run as files by
the target venv's own interpreter (`python imports_script.py ...`), not imported there.
"""

from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent


def script(name: str) -> str:
    return str(SCRIPTS / f"{name}.py")
