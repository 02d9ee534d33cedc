"""Verify (detect → plan → build → **verify** → commit → report): the environment's imports run in its own
interpreter, and the verdict on SkyRL readiness with each blocker's fix."""
