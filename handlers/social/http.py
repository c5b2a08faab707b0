"""The one way the social clients call a network: send a request and turn every failure into a SocialError."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.social import OutcomeUnknown, RateLimited, Rejected, SocialError, Transient, Unauthorized, Unclear

# A network's own reading of an error answer (status, safe detail); it wins over the generic mapping.
Refine = Callable[[int, str], SocialError | None]

MAX_DETAIL = 200
# Raised before a single byte of the request reached the provider: repeating is always safe.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Form fields whose values are secrets; they are blanked out of any text taken from an answer.
_SECRET_FIELDS = frozenset({"client_secret", "code", "code_verifier", "refresh_token", "token"})


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    may_act: bool = False,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    json: Any = None,
    content: bytes | None = None,
    auth: tuple[str, str] | None = None,
    ok: Collection[int] = (),
    refine: Refine | None = None,
    now: datetime | None = None,
) -> httpx.Response:
    """Send one request; return the answer if it is a 2xx or a status in `ok`, else raise its SocialError.

    `may_act` marks a call that must not be repeated blindly (publishing): when the provider may have
    received it but no answer came (read timeout, dropped connection), or it failed in a way that does
    not say whether the work was done (500, 502, 504), the error is OutcomeUnknown rather than
    Transient. httpx exceptions are not chained (`from None`): they carry the request, whose headers hold
    the bearer token.
    """
    secrets = [v for v in (token, auth[1] if auth else None) if v]
    secrets += [v for k, v in (data or {}).items() if k in _SECRET_FIELDS and v]
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    try:
        response = await http.request(
            method, url, headers=all_headers, data=data, json=json, content=content, auth=auth
        )
    except _NOT_SENT as exc:
        raise Transient(_exception_detail(exc, secrets)) from None
    except httpx.TransportError as exc:  # read/write timeout, connection lost: maybe acted on
        raise (OutcomeUnknown if may_act else Transient)(_exception_detail(exc, secrets)) from None
    if response.is_success or response.status_code in ok:
        return response
    raise classify(response, may_act=may_act, refine=refine, now=now, secrets=secrets)


def answer(response: httpx.Response, *path: str, may_act: bool = False) -> Any:
    """The JSON object of a successful answer, or the non-empty value at `path` in it. A malformed answer is
    Transient (OutcomeUnknown for `may_act`: the work was done but we cannot tell what came of it)."""
    try:
        value: Any = response.json()
        for key in path:
            value = value[key]
    except (ValueError, LookupError, TypeError):
        value = None
    if (not path and not isinstance(value, dict)) or (path and value in (None, "")):
        what = ".".join(path) or "a JSON object"
        error = OutcomeUnknown if may_act else Transient
        raise error(f"unexpected answer: no {what}", status=response.status_code)
    return value


def classify(
    response: httpx.Response,
    *,
    may_act: bool,
    refine: Refine | None = None,
    now: datetime | None = None,
    secrets: Collection[str] = (),
) -> SocialError:
    """The SocialError of an unsuccessful answer, so the caller decides retries from its kind alone."""
    status = response.status_code
    detail = error_detail(response, secrets)
    refined = refine(status, detail) if refine is not None else None
    if refined is not None:
        return refined
    if status == 401:
        return Unauthorized(detail, status=status)
    if status == 429:
        # Without the caller's clock a relative Retry-After cannot be placed in time: the caller's own
        # default wait applies (every time a decision uses comes from the injected clock).
        return RateLimited(detail, retry_at=retry_at(response.headers, now))
    if status == 503 or (status >= 500 and not may_act):  # 503: the provider turned the request away
        return Transient(detail, status=status)
    if status >= 500:
        # 500, 502, 504 and the rarer ones: the provider may have done the work before failing (a post
        # made, then an error on the way back). A retry would make a second post whenever the network
        # does not refuse it as a duplicate, and LinkedIn does not when the card's thumbnail, uploaded
        # anew for each attempt, differs.
        return (Unclear if status in (500, 502) else OutcomeUnknown)(detail, status=status)
    if status == 403:
        return Rejected("forbidden", detail, status=status)
    return Rejected("invalid", detail, status=status)


def error_detail(response: httpx.Response, secrets: Collection[str] = ()) -> str:
    """A short text from the provider's error body (LinkedIn `message`, X problem `detail` or first error
    `message`, OAuth `error_description`), else the reason phrase; secrets blanked, at most MAX_DETAIL."""
    try:
        body = response.json()
    except ValueError:
        body = None
    text = ""
    if isinstance(body, dict):
        errors = body.get("errors")
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        candidates = (
            first.get("message"),
            first.get("detail"),
            body.get("message"),
            body.get("detail"),
            body.get("error_description"),
            body.get("title"),
            body.get("error"),
        )
        text = next((c for c in candidates if isinstance(c, str) and c.strip()), "")
    return safe_text(text or response.reason_phrase or f"HTTP {response.status_code}", secrets)


def safe_text(text: str, secrets: Collection[str] = ()) -> str:
    """`text` on one line, secrets replaced (before cutting, so no prefix of one survives), cut short."""
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def retry_at(headers: httpx.Headers, now: datetime | None) -> datetime | None:
    """When to try again: the reset of a used-up X 24-hour usage cap, else `Retry-After` (seconds or an HTTP
    date), else X's `x-rate-limit-reset` (epoch, the 15-minute window)."""
    capped = usage_cap_reset(headers)
    if capped is not None:
        return capped
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value)) if now is not None else None
    if value:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            pass
        else:
            return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    reset = headers.get("x-rate-limit-reset", "").strip()
    if reset.isdigit():
        return datetime.fromtimestamp(int(reset), UTC)
    return None


def usage_cap_reset(headers: httpx.Headers) -> datetime | None:
    """When X's used-up 24-hour usage caps (`x-app-limit-24hour-*` per app, `x-user-limit-24hour-*` per user,
    `-remaining` 0) reset, the later if both are; None if neither is used up. A 429 then means the cap:
    waiting for the 15-minute window would only spend attempts."""
    resets = []
    for who in ("app", "user"):
        remaining = headers.get(f"x-{who}-limit-24hour-remaining", "").strip()
        reset = headers.get(f"x-{who}-limit-24hour-reset", "").strip()
        if remaining == "0" and reset.isdigit():
            resets.append(int(reset))
    return datetime.fromtimestamp(max(resets), UTC) if resets else None


def _exception_detail(exc: httpx.TransportError, secrets: Collection[str]) -> str:
    message = str(exc)
    return safe_text(f"{type(exc).__name__}: {message}" if message else type(exc).__name__, secrets)
