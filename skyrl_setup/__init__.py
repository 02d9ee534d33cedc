"""skyrl-setup: from a bare GPU machine to a verified SkyRL environment in one command."""

__version__ = "0.1.0"
