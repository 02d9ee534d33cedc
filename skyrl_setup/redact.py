"""Never print a secret: credentials in URLs and token-like environment values."""

from __future__ import annotations

import re

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+(?::[^/@\s]*)?@")
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|AUTH|CREDENTIAL)", re.I)


def redact(text: str) -> str:
    """Replace `user:password@` in every URL of `text` with `***@`."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)


def redact_env(name: str, value: str) -> str:
    return "***" if _SECRET_NAME.search(name) else redact(value)


def redact_obj(obj):
    """Redact every string inside a JSON-like structure."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: (redact_env(k, v) if isinstance(v, str) else redact_obj(v)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj
