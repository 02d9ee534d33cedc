"""uv, for plan and build: the one class that builds uv's command lines and runs it (backend), and what a failed
uv run means (failures)."""
