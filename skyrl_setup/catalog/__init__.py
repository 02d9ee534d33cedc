"""The catalog every stage reads: backend profiles, SkyRL releases, package roles, and where their data files live (data)."""

# The backend a command uses when none is named. A constant, not data: argparse's defaults and `--help` are built
# when the requests are declared, before SKYRL_SETUP_DATA_DIR is read, and must not depend on it.
DEFAULT_BACKEND = "sglang"
