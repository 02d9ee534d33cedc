"""Locks, for plan and build: PEP 751 lockfiles read (pylock) and resolved with uv (compile), SkyRL's own lock
as a source (skyrl_source, skyrl) and a user's SkyRL checkout (checkout)."""
