"""Never print a secret: credentials in URLs and token-like environment values."""

from __future__ import annotations

import re

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+(?::[^/@\s]*)?@")
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|AUTH|CREDENTIAL)", re.I)
# a query parameter that carries a secret: ?token=, &access_token=, ?api-key=, S3/GCS/Azure signatures (X-Amz-Signature, sig=)
_QUERY_SECRET = re.compile(r"(?P<name>[?&;](?:[\w.-]*(?:token|secret|passw(?:or)?d|pwd|api[_-]?key|auth|credential|signature)[\w.-]*"
                           r"|(?:[\w.-]*[_-])?(?:key|sig|session))=)[^&#\s\"'<>)]+", re.I)


def redact(text: str) -> str:
    """Replace `user:password@` in every URL of `text` with `***@`, and secret query values with `***`."""
    return _QUERY_SECRET.sub(r"\g<name>***", _URL_CREDENTIALS.sub(r"\g<scheme>***@", text))


def has_secret(text: str) -> bool:
    return redact(text) != text


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
