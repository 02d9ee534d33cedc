"""Plan (detect → **plan** → build → verify → commit → report): every decision made before anything is
downloaded: the InstallPlan and its planner, the lock's route and fetch routes, the CUDA variant, the target,
prebuilt artifacts, `upgrade --latest` and upgrade plans."""
