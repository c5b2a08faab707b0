"""Properties of the HTTP layer, over every route (/slack/events, /healthz, /r/<code>, /s/<code>,
/oauth/<network>/start and /callback, /login and its callback, /logout, /me), with hypothesis: random
and malformed bodies, missing, bad and stale signatures, wrong content types, unknown action and view
ids, forged user and team ids, huge numbers, unicode, right-to-left and control characters, injection
strings.

Whatever comes in: no 5xx, no traceback in a response or in the log, and no database change from a request
that is not properly signed. Signed but structurally malformed Slack payloads get a 2xx or a 4xx. The
command and form grammars behind a valid signature are covered by tests/handlers/slack/test_hostile_input.

Bounded in time: a few hundred examples in all, each a request to the app on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.demo.signing import signature, signed_headers
from handlers.slack.blocks.modals import EDIT_CALLBACK, QUEUE_CALLBACK
from models import Base
from tests.conftest import SIGNING_SECRET
from tests.fakes.social import FakeLinkedIn, FakeX
from tests.handlers.slack.driver import START, SettingsFactory, relais_app, setup_workspace

Sessions = async_sessionmaker[AsyncSession]
Snapshot = dict[str, list[tuple[Any, ...]]]

FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=5),  # one request to a local app: far below, even on a loaded machine
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
    derandomize=True,  # the same examples on every run: CI fails only on a change, never by chance
)
FORM = "application/x-www-form-urlencoded"

# --- what hostile input looks like ---------------------------------------------------------------------

NASTY = [
    "' OR '1'='1' --",
    '"; DROP TABLE member; --',
    "<script>alert(1)</script>",
    "{{7*7}}${7*7}",
    "${jndi:ldap://127.0.0.1/a}",
    "../../../etc/passwd",
    "%00%ZZ%",
    "\u202eevil\u202c",  # right-to-left override
    "مرحبا بالعالم",
    "\x00\x01\x1b[31m\x7f",
    "\r\nX-Injected: 1",
    "١٢٣٤",  # Arabic-Indic digits
    "𝟗𝟗𝟗",
    "9" * 40,
    "-1",
    "1e309",
    "NaN",
    "\ufeff\u200b",
    "<!channel> <@UADMIN> <#C0NEWS|news>",
    "a" * 4000,
    "🙂" * 50,
]
nasty_text = st.one_of(
    st.sampled_from(NASTY), st.text(max_size=80), st.integers().map(str), st.floats().map(repr)
)
forged_ids = st.one_of(
    st.sampled_from(["UADMIN", "UEMP1", "U0001", "T0001", "TOTHER", "WUSER", ""]), nasty_text
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), nasty_text)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(nasty_text, children, max_size=3),
    max_leaves=8,
)
ACTION_IDS = [
    "share_linkedin", "share_x", "open_share_linkedin", "open_share_x", "not_for_me", "connect_linkedin",
    "connect_x", "disconnect_linkedin", "disconnect_x", "connect_open", "view_post", "share_undo",
    "share_repost", "home_nudges_off", "home_nudges_on", "home_lang_en", "home_lang_fr", "edit_share",
    "suggestion_approve", "suggestion_reject",
]  # fmt: skip
PAYLOAD_TYPES = [
    "block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion",
    "interactive_message", "dialog_submission", "event_callback", "url_verification", "app_rate_limited",
]  # fmt: skip
EVENT_TYPES = ["app_home_opened", "message", "app_mention", "member_joined_channel", "tokens_revoked"]
CONTENT_TYPES = [
    "application/json",
    FORM,
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/json; charset=no-such-charset",
    "application/x-www-form-urlencoded; charset=latin-1",
    "",
]


def header_value(value: str) -> bytes:
    """What can travel in a header: no CR, LF or other control characters (the client refuses them)."""
    return "".join(c for c in value if c >= " " and c != "\x7f").strip().encode()


@st.composite
def slack_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """Something shaped like a Slack payload, with forged, odd or missing parts."""
    user = {"id": draw(forged_ids), "team_id": draw(forged_ids), "name": draw(nasty_text)}
    payload: dict[str, Any] = {
        "type": draw(st.sampled_from(PAYLOAD_TYPES) | nasty_text),
        "team": {"id": draw(forged_ids), "domain": draw(nasty_text)},
        "team_id": draw(forged_ids),
        "user": draw(st.just(user) | json_values),
        "api_app_id": "A0001",
        "token": "legacy",
        "trigger_id": draw(nasty_text),
        "actions": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "action_id": st.sampled_from(ACTION_IDS) | nasty_text,
                        "block_id": nasty_text,
                        "value": nasty_text | json_values,
                        "type": st.sampled_from(["button", "static_select"]) | nasty_text,
                    }
                ),
                max_size=2,
            )
            | json_values
        ),
        "view": {
            "id": draw(nasty_text),
            "type": draw(st.sampled_from(["modal", "home"]) | nasty_text),
            "callback_id": draw(st.sampled_from([QUEUE_CALLBACK, EDIT_CALLBACK]) | nasty_text),
            "private_metadata": draw(nasty_text),
            "state": {"values": draw(json_values)},
        },
        "event": {
            "type": draw(st.sampled_from(EVENT_TYPES) | nasty_text),
            "user": draw(forged_ids),
            "channel": draw(forged_ids),
            "tab": draw(st.sampled_from(["home", "messages"]) | nasty_text),
        },
        "event_id": draw(nasty_text),
        "channel": {"id": draw(forged_ids)},
        "container": draw(json_values),
        "enterprise": draw(st.none() | json_values),
        "is_enterprise_install": draw(json_values),
        "challenge": draw(nasty_text),
    }
    for key in draw(st.sets(st.sampled_from(sorted(payload)))):
        del payload[key]
    if payload:
        for key in draw(st.sets(st.sampled_from(sorted(payload)), max_size=2)):
            payload[key] = draw(json_values)
    return payload


def _slack_like(
    user: str, action_id: str, callback_id: str, text: str, response_url: str
) -> list[tuple[dict[str, Any], str]]:
    """Real-looking payloads, as the driver sends them: a click in a message, a click in the App Home, a
    form submission, a slash command, an event. `(payload, how it is sent)`: "payload form", "command" or
    "json"."""
    interactive = {
        "user": {"id": user, "username": "u", "name": "u", "team_id": "T0001"},
        "team": {"id": "T0001", "domain": "acme"},
        "api_app_id": "A0001",
        "token": "legacy",
        "trigger_id": "1111.2222.trigger",
        "is_enterprise_install": False,
        "enterprise": None,
    }
    action = {"action_id": action_id, "block_id": "b", "value": "1", "type": "button", "action_ts": "1.2"}
    click = {
        **interactive,
        "type": "block_actions",
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "C0NEWS", "is_ephemeral": False},
        "channel": {"id": "C0NEWS", "name": "news"},
        "response_url": response_url,
        "actions": [action],
    }
    home_click = {
        **interactive,
        "type": "block_actions",
        "container": {"type": "view", "view_id": "VHOME"},
        "view": {"id": "VHOME", "type": "home"},
        "actions": [action],
    }
    submission = {
        **interactive,
        "type": "view_submission",
        "view": {
            "id": "VMODAL", "team_id": "T0001", "type": "modal", "callback_id": callback_id,
            "private_metadata": "1", "hash": "1.abc",
            "state": {"values": {"url": {"value": {"type": "url_text_input", "value": "https://example.com"}}}},
        },
        "response_urls": [],
    }  # fmt: skip
    command = {
        "token": "legacy", "team_id": "T0001", "team_domain": "acme", "channel_id": "C0GENERAL",
        "channel_name": "general", "user_id": user, "user_name": "u", "command": "/relais", "text": text,
        "api_app_id": "A0001", "response_url": response_url, "trigger_id": "1.2.abcd",
    }  # fmt: skip
    event = {
        "token": "legacy", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
        "event_id": "Ev1", "event_time": 1,
        "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"},
    }  # fmt: skip
    return [
        (click, "payload form"),
        (home_click, "payload form"),
        (submission, "payload form"),
        (command, "command"),
        (event, "json"),
    ]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into nested dicts and lists."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _mutate(payload: Any, path: tuple[Any, ...], replacement: Any, *, delete: bool) -> None:
    parent = payload
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement


@st.composite
def mutated_slack_bodies(draw: st.DrawFn, response_url: str) -> tuple[bytes, str]:
    """A real-looking Slack payload with one to three parts removed or replaced by anything."""
    shapes = _slack_like(
        draw(forged_ids), draw(st.sampled_from(ACTION_IDS) | nasty_text),
        draw(st.sampled_from([QUEUE_CALLBACK, EDIT_CALLBACK]) | nasty_text), draw(nasty_text), response_url,
    )  # fmt: skip
    payload, sent_as = draw(st.sampled_from(shapes))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(payload)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        replacement = (
            draw(st.just("") | forged_ids | json_values) if sent_as != "command" else draw(nasty_text)
        )
        _mutate(
            payload, path, replacement, delete=draw(st.booleans()) or (sent_as == "command" and len(path) > 1)
        )
    if sent_as == "command":
        return urlencode({str(k): str(v) for k, v in payload.items()}).encode(), FORM
    if sent_as == "payload form":
        return urlencode({"payload": json.dumps(payload)}).encode(), FORM
    return json.dumps(payload).encode(), "application/json"


@st.composite
def slack_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """(body, content type) as Slack might send it, or not: JSON, a form with a payload, a slash command,
    raw bytes, text."""
    shape = draw(st.sampled_from(["json", "payload form", "command", "bytes", "text"]))
    if shape == "json":
        body = json.dumps(draw(slack_payloads())).encode()
        kind = "application/json"
    elif shape == "payload form":
        body = urlencode({"payload": json.dumps(draw(slack_payloads()))}).encode()
        kind = FORM
    elif shape == "command":
        fields = {
            "command": draw(st.sampled_from(["/relais", "/other"]) | nasty_text),
            "text": draw(nasty_text),
            "user_id": draw(forged_ids),
            "team_id": draw(forged_ids),
            "channel_id": draw(forged_ids),
            "trigger_id": draw(nasty_text),
            "api_app_id": "A0001",
        }
        dropped = draw(st.sets(st.sampled_from(sorted(fields))))
        body = urlencode({k: v for k, v in fields.items() if k not in dropped}).encode()
        kind = FORM
    elif shape == "bytes":
        body = draw(st.binary(max_size=2000))
        kind = "application/octet-stream"
    else:
        body = draw(nasty_text).encode()
        kind = "text/plain"
    return body, draw(st.just(kind) | st.sampled_from(CONTENT_TYPES))


@st.composite
def bad_signatures(draw: st.DrawFn, body: bytes) -> dict[bytes, bytes]:
    """X-Slack headers that do not prove Slack sent `body`: missing, wrong secret, stale, from the future,
    for another body, garbage. Stale and future timestamps are a minute past Slack's 5 minutes, so that a
    request checked seconds after it was drawn (a loaded machine) is still outside them."""
    now = int(time.time())
    mode = draw(
        st.sampled_from(
            ["missing", "wrong secret", "stale", "future", "other body", "bad timestamp", "bad sig"]
        )
    )
    if mode == "missing":
        return {}
    timestamp: int | str = now
    secret, signed = SIGNING_SECRET, body
    if mode == "wrong secret":
        secret = draw(st.text(min_size=1, max_size=40).filter(lambda s: s != SIGNING_SECRET))
    elif mode == "stale":
        timestamp = now - draw(st.integers(min_value=360, max_value=10**10))
    elif mode == "future":
        timestamp = now + draw(st.integers(min_value=360, max_value=10**12))
    elif mode == "other body":
        signed = body + draw(st.binary(min_size=1, max_size=20))
    headers = {
        b"X-Slack-Request-Timestamp": str(timestamp).encode(),
        b"X-Slack-Signature": signature(
            secret, timestamp if isinstance(timestamp, int) else 0, signed
        ).encode(),
    }
    if mode == "bad timestamp":
        headers[b"X-Slack-Request-Timestamp"] = header_value(draw(nasty_text))
    elif mode == "bad sig":
        headers[b"X-Slack-Signature"] = header_value(draw(nasty_text))
    return headers


# --- the running app -----------------------------------------------------------------------------------


@dataclass
class Site:
    client: httpx.AsyncClient
    fake: FakeSlack
    sessions: Sessions

    async def snapshot(self) -> Snapshot:
        """Every row of every table: equal snapshots mean nothing changed."""
        found: Snapshot = {}
        async with self.sessions() as session:
            for table in Base.metadata.sorted_tables:
                rows = await session.execute(text(f'SELECT * FROM "{table.name}"'))  # noqa: S608  # our names
                found[table.name] = sorted((tuple(row) for row in rows), key=repr)
        return found


@pytest.fixture
async def site(
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    fake_slack: FakeSlack,
    linkedin: FakeLinkedIn,
    x: FakeX,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[Site]:
    """Relais with Slack, LinkedIn and X configured, and a workspace with members in it (so that forged
    requests have rows to change). After the test, and the work Bolt runs after an ack, no traceback was
    logged."""
    setup_workspace(fake_slack)
    settings = make_settings(
        encryption_key=Fernet.generate_key().decode(),
        linkedin_client_id=linkedin.client_id, linkedin_client_secret=linkedin.client_secret,
        linkedin_auth_url=linkedin.auth_url, linkedin_api_url=linkedin.api_url,
        x_client_id=x.client_id, x_client_secret=x.client_secret, x_auth_url=x.auth_url, x_api_url=x.api_url,
        slack_client_id=fake_slack.client_id, slack_client_secret=fake_slack.client_secret,
        slack_oidc_authorize_url=fake_slack.authorize_url,
    )  # fmt: skip
    async with relais_app(settings, engine, FrozenClock(START), fake_slack) as driver:
        for user in ("UADMIN", "UEMP1"):
            await driver.command(user, "help")
        yield Site(driver.client, fake_slack, sessions)
    logged = [
        r for r in caplog.records if (r.exc_info or r.levelno >= logging.ERROR) and not _slack_refused(r)
    ]
    assert logged == [], [f"{r.name}: {r.getMessage()}" for r in logged]


def _slack_refused(record: logging.LogRecord) -> bool:
    """A failure that is Slack's answer (the fake refuses a forged user, say), which the app reports as it
    should: not a crash on the payload's shape."""
    error = record.exc_info[1] if record.exc_info else None
    while error is not None:
        if isinstance(error, SlackApiError):
            return True
        error = error.__cause__ or error.__context__
    return False


def assert_no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text


# --- properties ----------------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
async def test_slack_requests_not_signed_by_slack_get_401_and_change_nothing(
    site: Site, data: st.DataObject
) -> None:
    body, content_type = data.draw(slack_bodies())
    headers = data.draw(bad_signatures(body))
    headers[b"Content-Type"] = header_value(content_type)
    before, calls = await site.snapshot(), len(site.fake.calls)
    response = await site.client.post("/slack/events", content=body, headers=headers)
    assert_no_server_error(response)
    assert response.status_code == 401
    assert await site.snapshot() == before
    assert len(site.fake.calls) == calls


@FUZZ
@given(data=st.data())
async def test_signed_malformed_slack_payloads_get_a_2xx_or_4xx(site: Site, data: st.DataObject) -> None:
    body, content_type = data.draw(mutated_slack_bodies(site.fake.response_url()) | slack_bodies())
    response = await site.client.post(
        "/slack/events", content=body, headers=signed_headers(SIGNING_SECRET, body, content_type=content_type)
    )
    assert_no_server_error(response)
    assert response.status_code < 300 or 400 <= response.status_code < 500


ROUTES = ["/slack/events", "/healthz", "/r/{}", "/s/{}", "/oauth/{}/start", "/oauth/{}/callback", "/{}",
          "/login/{}/callback", "/logout", "/me", "/me/disconnect", "/me/data"]  # fmt: skip


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    route=st.sampled_from(ROUTES),
    segment=st.sampled_from(["linkedin", "x", "c0de", "slack"]) | nasty_text,
    query=st.dictionaries(st.sampled_from(["t", "state", "code", "error", "error_description"]) | nasty_text,
                          nasty_text, max_size=4),
    headers=st.dictionaries(
        st.sampled_from(["User-Agent", "X-Forwarded-For", "Cookie", "Content-Type", "Accept-Language"]),
        nasty_text, max_size=4,
    ),
    body=st.binary(max_size=500),
)  # fmt: skip
async def test_any_request_to_any_route_is_answered_without_5xx_and_changes_nothing(
    site: Site,
    method: str,
    route: str,
    segment: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
) -> None:
    """Unsigned requests of any method, path, query, header and body. Random link codes match no link, and
    random connect tokens and OAuth states no attempt, so nothing may be written."""
    path = route.format(quote(segment, safe=""))
    before = await site.snapshot()
    response = await site.client.request(
        method,
        path,
        params=query,
        headers={name.encode(): header_value(value) for name, value in headers.items()},
        content=body if method not in ("GET", "HEAD") else None,
    )
    assert_no_server_error(response)
    assert await site.snapshot() == before


@FUZZ
@given(
    network=st.sampled_from(["linkedin", "x"]),
    step=st.sampled_from(["start", "callback"]),
    query=st.dictionaries(st.sampled_from(["t", "state", "code", "error", "error_description"]), nasty_text),
    cookie=nasty_text,
)
async def test_oauth_pages_refuse_forged_tokens_states_and_cookies(
    site: Site, network: str, step: str, query: dict[str, str], cookie: str
) -> None:
    before, calls = await site.snapshot(), len(site.fake.calls)
    response = await site.client.get(
        f"/oauth/{network}/{step}",
        params=query,
        headers={b"Cookie": header_value(f"relais_oauth_{network}={quote(cookie)}")},
    )
    assert_no_server_error(response)
    assert response.status_code in (200, 400, 403, 404, 410)  # a page that says what went wrong
    assert await site.snapshot() == before
    assert len(site.fake.calls) == calls


@FUZZ
@given(
    next_path=nasty_text | st.sampled_from(["//evil.example", "/\\evil.example", "https://evil.example/"]),
    provider=st.sampled_from(["", "/slack"]),
    language=nasty_text,
)
async def test_signing_in_goes_to_slack_and_never_anywhere_else_afterwards(
    site: Site, next_path: str, provider: str, language: str
) -> None:
    """Whatever `next` says, `/login` sends the browser to Slack's authorize page, and what it will follow
    after signing in is a path of this site."""
    response = await site.client.get(
        f"/login{provider}", params={"next": next_path}, headers={b"Accept-Language": header_value(language)}
    )
    assert_no_server_error(response)
    assert response.status_code == 302
    assert response.headers["location"].startswith(site.fake.authorize_url + "?")
    async with site.sessions() as session:
        stored = await session.scalar(text("SELECT next_path FROM signin_attempt ORDER BY id DESC LIMIT 1"))
    assert isinstance(stored, str)
    assert stored.startswith("/")
    assert not stored.startswith("//")
    assert "\\" not in stored


@FUZZ
@given(code=nasty_text, user_agent=nasty_text, forwarded=nasty_text)
async def test_tracked_links_with_unknown_codes_are_404_and_change_nothing(
    site: Site, code: str, user_agent: str, forwarded: str
) -> None:
    before = await site.snapshot()
    response = await site.client.get(
        f"/r/{quote(code, safe='')}",
        headers={b"User-Agent": header_value(user_agent), b"X-Forwarded-For": header_value(forwarded)},
    )
    assert_no_server_error(response)
    assert response.status_code in (404, 429)
    assert await site.snapshot() == before


@FUZZ
@given(code=nasty_text, caption=nasty_text, user_agent=nasty_text)
async def test_share_links_with_unknown_codes_are_404_and_record_nothing(
    site: Site, code: str, caption: str, user_agent: str
) -> None:
    before = await site.snapshot()
    response = await site.client.get(
        f"/s/{quote(code, safe='')}",
        params={"text": caption},
        headers={b"User-Agent": header_value(user_agent)},
    )
    assert_no_server_error(response)
    assert response.status_code in (404, 429)
    assert await site.snapshot() == before


async def test_the_healthz_route_answers_ok_between_all_that(site: Site) -> None:
    response = await site.client.get("/healthz", params={"x": "\u202e' OR 1=1"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
