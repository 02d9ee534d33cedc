"""Build (detect → plan → **build** → verify → commit → report): a new generation from a complete plan, the
existing environment an upgrade or rollback acts on, and the other things made from a lock: offline
bundles, Docker build contexts and the tool's own wheel."""
