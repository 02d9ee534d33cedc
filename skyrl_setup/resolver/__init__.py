"""A small resolver that decides compatibility before anything is downloaded.

Roles, as in pip's and pdm's resolvelib providers:
- `index.IndexClient` reads project pages (PEP 691 JSON, PEP 503 HTML) and package
  metadata (PEP 658 files, else the wheel's METADATA through HTTP range requests), with
  an on-disk cache under the user cache directory.
- `provider.Provider` is the thin adapter resolvelib drives: it finds candidates,
  orders preferences and lists a candidate's dependencies.
- `explain` turns resolvelib's ResolutionImpossible into one sentence plus a fix.
- `check` is the entry point used by install, upgrade and check-compat.

It resolves only what decides CUDA compatibility (the roots, and dependencies in the
torch-relevant set), so a clash is found in about a second; uv does the full resolution.
"""
