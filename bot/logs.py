"""Keeping one-time secrets out of the logs, whatever logs them.

A member's personal connect link (`PUBLIC_URL/oauth/<network>/start?t=…`) lets whoever holds it connect
their own social account to that member, and OAuth callbacks carry a `code` and a `state`. Relais never
logs them itself, but at `LOG_LEVEL=DEBUG` libraries do: slack_sdk's web and webhook clients log every
request and response body (the message holding the link, `respond()`'s body), and Bolt logs what it
answers. So the handlers configured by `relais` redact these query parameters from every record, rather
than each library's level being guessed right.
"""

from __future__ import annotations

import logging
import re
from typing import Final

REDACTED: Final = "[redacted]"
# `t`, `code` and `state` as query parameters, plain or percent-encoded (a link inside another URL); the
# value runs to the next parameter, quote, space or escape.
_SECRET_PARAMETER: Final = re.compile(
    r"((?:[?&]|%3[Ff]|%26)(?:t|code|state)(?:=|%3[Dd]))[^&\s\"'<>|\\%,;)\]}]+"
)


def redact(text: str) -> str:
    """`text` with the values of secret query parameters replaced by REDACTED."""
    return _SECRET_PARAMETER.sub(r"\1" + REDACTED, text)


class RedactSecrets(logging.Filter):
    """A handler filter: the record's message (arguments merged) and traceback, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: logging reports it when formatting
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def redact_secrets(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of `logger` (the root logger by default), once each."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(existing, RedactSecrets) for existing in handler.filters):
            handler.addFilter(RedactSecrets())
