"""Never print a secret. A value is marked where it enters (`Secret`: a mirror's or an index's URL with
credentials, a token-named variable's value) and redacted by its type when shown; free text from
other programs (uv's output) is redacted by what it holds, URL credentials and secret query values.
Never by the name of the key it happens to be stored under."""

from __future__ import annotations

import re

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+(?::[^/@\s]*)?@")
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|AUTH|CREDENTIAL)", re.I)
_NOT_SECRET = re.compile(r"^(TOKENIZERS_[A-Z_]*|AUTHOR)$", re.I)  # TOKENIZERS_PARALLELISM is a setting, not a token
# a query parameter that carries a secret: ?token=, &access_token=, ?api-key=, S3/GCS/Azure signatures (X-Amz-Signature, sig=)
_QUERY_SECRET = re.compile(r"(?P<name>[?&;](?:[\w.-]*(?:token|secret|passw(?:or)?d|pwd|api[_-]?key|auth|credential|signature)[\w.-]*"
                           r"|(?:[\w.-]*[_-])?(?:key|sig|session))=)[^&#\s\"'<>)]+", re.I)


def redact(text: str) -> str:
    """Replace `user:password@` in every URL of `text` with `***@`, and secret query values with `***`."""
    return _QUERY_SECRET.sub(r"\g<name>***", _URL_CREDENTIALS.sub(r"\g<scheme>***@", text))


def has_secret(text: str) -> bool:
    return redact(text) != text


class Secret(str):
    """The real text for the programs that need it (uv, httpx); `redacted` wherever a person or a log sees it."""

    @property
    def redacted(self) -> str:
        shown = redact(str.__str__(self))
        return shown if shown != str.__str__(self) else "***"

    def __repr__(self) -> str:
        return f"Secret({self.redacted!r})"


def secret_if_named(name: str, value: str) -> str:
    """An environment variable's value as it enters: a token-named variable's is a Secret."""
    return Secret(value) if _SECRET_NAME.search(name) and not _NOT_SECRET.search(name) else value


def mark_url(url: str) -> str:
    """A URL as it enters from a flag, a variable or a config file: a Secret when it carries credentials."""
    return Secret(url) if has_secret(url) else url
