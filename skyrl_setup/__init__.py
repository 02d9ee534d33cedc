"""skyrl-setup: from a bare GPU machine to a verified SkyRL environment in one command."""

import sys

__version__ = "0.1.0"

# httpx's package imports its command-line client (click, pygments, rich's syntax and progress) whenever click is
# installed, and ray brings click: 55 ms of every command's start. Nothing here uses that client; httpx's own
# fallback for a missing one stands in.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
