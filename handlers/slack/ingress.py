"""Slack's one request URL at the door: the signature is verified on the raw body before anything parses
it, and nothing that cannot be parsed reaches Bolt.

Bolt's aiohttp adapter parses the body while it builds its request, before its own middleware checks the
signature, so random bytes sent without any signature raised there (HTTP 500 and a traceback). Here, in
order: the `X-Slack-*` headers must be present, well-formed and fresh, and the announced body small,
before a byte of the body is read (401, 413); the body must arrive within a few seconds (408); slack_sdk's
`SignatureVerifier` must accept the raw bytes (401); only then is the body parsed, and a signed body
that does not parse into a Slack payload gets 400. Bolt still verifies the signature again (cheap).
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import Clock, SignatureVerifier

from bot.inbound import announced_too_large, read_body, refuse
from handlers.slack.shapes import has_slack_shape

logger = logging.getLogger(__name__)

# SignatureVerifier's own window: a request signed longer ago (or ahead) than this is a replay.
SIGNATURE_MAX_AGE_SECONDS = 5 * 60

# ASCII only: int() and str.isdigit() also take other scripts' digits.
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)


class SlackIngress:
    """Checks, reads, verifies and parses a request to `/slack/events`, then hands it to Bolt.

    `clock` is slack_sdk's: the request's timestamp is Slack's real time, so its freshness is judged by
    the real clock (as Bolt's own check does), not by Relais's injected clock, which tests and
    `relais jobs run --at` move.
    """

    def __init__(self, app: AsyncApp, signing_secret: str, *, clock: Clock | None = None) -> None:
        self._app = app
        self._clock = clock or Clock()
        self._verifier = SignatureVerifier(signing_secret, clock=self._clock)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refusal = self._check_before_body(request)
        if refusal is not None:
            return refusal
        raw = await read_body(request)
        if isinstance(raw, web.Response):
            return raw
        text = self._verified_text(raw, request)
        if text is None:
            return refuse(401, "invalid request")
        bolt_request = _parse(text, request)
        if bolt_request is None:
            return refuse(400, "the request body is not a Slack payload")
        return await to_aiohttp_response(await self._app.async_dispatch(bolt_request))

    def _check_before_body(self, request: web.Request) -> web.Response | None:
        """Refuse what can be refused from the headers alone, so a client that sends no valid Slack
        headers, or announces a huge body, holds no connection while its body trickles in."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            return refuse(401, "invalid request")
        if abs(self._clock.now() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
            return refuse(401, "invalid request")
        return announced_too_large(request)

    def _verified_text(self, raw: bytes, request: web.Request) -> str | None:
        """The body as text when its signature is Slack's; None otherwise. Slack sends UTF-8, and
        SignatureVerifier decodes before hashing (it raises on other bytes), so those are refused first."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        headers = request.headers
        valid = self._verifier.is_valid(
            text, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
        )
        return text if valid else None


def _parse(text: str, request: web.Request) -> AsyncBoltRequest | None:
    """Bolt's request for a verified body, or None when it is not a Slack payload: Bolt parses JSON, or a
    form whose `payload` is JSON, and assumes a JSON object shaped as Slack's (`handlers.slack.shapes`)."""
    try:
        bolt_request = AsyncBoltRequest(
            body=text,
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]  # a mapping of str, as Bolt's adapter passes
        )
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        # Signed, so from Slack or from someone holding the signing secret: worth a line, not a 500.
        logger.warning("signed Slack request that Bolt cannot read (%s)", type(exc).__name__)
        return None
    if not has_slack_shape(bolt_request):
        logger.warning("signed Slack request whose payload is not shaped as Slack's")
        return None
    return bolt_request
