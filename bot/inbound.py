"""What every chat platform's request URL does before it trusts a body: a size cap, a time limit for
the body to arrive, and a short JSON refusal. No platform sends more or slower than this, and none of
it is ever worth a 5xx."""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp import web

# Chat payloads are a few kilobytes; the largest (a form's submitted state) stays far below this.
MAX_BODY_BYTES: Final = 1024 * 1024
# Slack gives up on a request after 3 seconds, and the Bot Framework sends its at once: a body still
# arriving after this is not theirs.
BODY_TIMEOUT_SECONDS: Final = 5.0


def refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def announced_too_large(request: web.Request) -> web.Response | None:
    """A refusal for a body announced larger than the cap (before any of it is read), else None."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return refuse(413, "the request body is too large")
    return None


async def read_body(request: web.Request) -> bytes | web.Response:
    """The body, or the refusal when it arrives too slowly or, sent without a length, runs too long."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            return await request.read()
    except TimeoutError:
        return refuse(408, "the request body was too slow")
    except web.HTTPRequestEntityTooLarge:  # no Content-Length (chunked) and too long
        return refuse(413, "the request body is too large")
