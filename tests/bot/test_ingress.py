"""Slack's request URL at the door, and /healthz: unsigned or unparseable bodies get a 4xx (never a 500),
headers are judged before the body is read, slow and huge bodies are cut off, and a deleted database
file is reported. The limits are tested on a real `relais serve` process with raw sockets."""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.demo.fake_slack import FakeSlack
from bot.demo.signing import signature, signed_headers
from bot.inbound import BODY_TIMEOUT_SECONDS, MAX_BODY_BYTES
from bot.web import HEADER_TIMEOUT_SECONDS, create_app
from models import Base
from tests.conftest import BOT_TOKEN, SETTINGS_VARIABLES, SIGNING_SECRET, free_port, running

SettingsFactory = Callable[..., Settings]
RELAIS = str(Path(sys.executable).with_name("relais"))
FORM = "application/x-www-form-urlencoded"


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows per table: what a request that must change nothing is checked against."""
    async with engine.connect() as connection:
        return {
            table.name: (await connection.execute(sql_select(func.count()).select_from(table))).scalar_one()
            for table in Base.metadata.sorted_tables
        }


def _no_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    logged = [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]
    assert logged == [], [record.getMessage() for record in logged]


UNSIGNED = {
    "random bytes": (bytes(range(256)) * 3, "application/octet-stream"),
    "bad percent escape": (b"payload=%ZZ", FORM),
    "payload not json": (b"payload=%7Bnot-json", FORM),
    "json list": (b"[1, 2, 3]", "application/json"),
    "truncated json": (b'{"type": "event_callback", "event": {', "application/json"),
    "url verification": (b'{"type": "url_verification", "challenge": "c-123"}', "application/json"),
}


@pytest.mark.parametrize("case", sorted(UNSIGNED))
async def test_unsigned_bodies_get_401_before_anything_parses_them(
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    body, content_type = UNSIGNED[case]
    before = await row_counts(engine)
    async with running(create_app(make_settings(), engine=engine)) as client:
        response = await client.post("/slack/events", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 401
    assert "Traceback" not in response.text
    assert "c-123" not in response.text
    assert await row_counts(engine) == before
    assert fake_slack.calls == []
    _no_traceback_logged(caplog)


def _payload_form(**fields: object) -> bytes:
    """An interactivity payload as Slack form-encodes it, from a click's usual fields and `fields`."""
    payload = {
        "user": {"id": "UEMP1", "team_id": "T0001"},
        "team": {"id": "T0001"},
        "actions": [{"action_id": "share_x", "value": "1", "type": "button"}],
        "trigger_id": "1.2.t",
        **fields,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


SIGNED_MALFORMED = {
    "bad percent escape": (b"payload=%ZZ", FORM),
    "payload not json": (b"payload=%7Bnot-json", FORM),
    "payload a json list": (b"payload=%5B1%5D", FORM),
    "payload a json string": (b"payload=%22x%22", FORM),
    "json list": (b"[1, 2, 3]", "application/json"),
    "json number": (b"42", "application/json"),
    "truncated json": (b'{"type": "event_callback", "event": {', "application/json"),
    "deeply nested json": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "enterprise of the wrong type": (b'{"type": "event_callback", "enterprise": 5}', "application/json"),
    "not utf-8": (b'{"type": "\xff\xfe"}', "application/json"),
    # Found by tests/bot/test_properties_http.py: each raised inside Bolt or a listener.
    "a click without actions": (_payload_form(type="block_actions", actions=[]), FORM),
    "a click whose user is a string": (_payload_form(type="block_actions", user="UEMP1"), FORM),
    "a click without action_id": (_payload_form(type="block_actions", actions=[{"value": "1"}]), FORM),
    "a null event": (b'{"type": "url_verification", "challenge": "c", "event": null}', "application/json"),
    "an event that is a string": (
        b'{"type": "event_callback", "team_id": "T1", "event": "x"}',
        "application/json",
    ),
    "a view that is a list": (_payload_form(type="view_submission", view=[]), FORM),
    "a command without user_id": (b"command=%2Frelais&text=help&team_id=T0001&channel_id=C1", FORM),
    "a command whose response_url is no URL": (
        b"command=%2Frelais&text=help&team_id=T0001&channel_id=C1&user_id=UEMP1&trigger_id=1.2"
        b"&response_url=1.882319503278621e%2B16",
        FORM,
    ),
}


@pytest.mark.parametrize("case", sorted(SIGNED_MALFORMED))
async def test_signed_bodies_that_are_no_slack_payload_get_4xx_and_change_nothing(
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    body, content_type = SIGNED_MALFORMED[case]
    before = await row_counts(engine)
    async with running(create_app(make_settings(), engine=engine)) as client:
        headers = signed_headers(SIGNING_SECRET, body, content_type=content_type)
        response = await client.post("/slack/events", content=body, headers=headers)
    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.text
    assert await row_counts(engine) == before
    assert fake_slack.calls == []
    _no_traceback_logged(caplog)


async def test_a_charset_python_does_not_know_does_not_stop_a_signed_request(
    make_settings: SettingsFactory, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack's bodies are UTF-8 whatever the header says; the old adapter decoded with the header's
    charset and raised LookupError (HTTP 500)."""
    body = b'{"type": "url_verification", "challenge": "c-123", "token": "t"}'
    headers = signed_headers(SIGNING_SECRET, body, content_type="application/json; charset=no-such-charset")
    async with running(create_app(make_settings(), engine=engine)) as client:
        response = await client.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"challenge": "c-123"}
    _no_traceback_logged(caplog)


# --- a real `relais serve`, spoken to over raw sockets ---------------------------------------------


@dataclass
class Served:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    offset: float = 0.0  # the server's clock minus ours

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def now(self) -> int:
        """The time by the server's clock, which Slack's timestamps are judged by. It can differ from the
        test's own: under libfaketime (CI's any-date pass) each new process starts at the faked time."""
        return int(time.time() + self.offset)


def _environment(**variables: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in SETTINGS_VARIABLES}
    environment.update(variables)
    return environment


# The server starts with a soft limit on open files that slow clients can exhaust, as the usual 1,024 is
# by 1,100 of them; `relais serve` must raise it itself.
LOW_SOFT_LIMIT = 128


def _healthz(port: int, timeout: float = 3.0) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=timeout)


def _serve(folder: Path) -> Served:
    database_url = f"sqlite:///{folder / 'relais.db'}"
    migrated = subprocess.run(
        [RELAIS, "migrate"], env=_environment(DATABASE_URL=database_url), cwd=folder,
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    environment = _environment(
        DATABASE_URL=database_url, PORT=str(port), SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL="http://127.0.0.1:9/api/",
    )  # fmt: skip
    with (folder / "serve.log").open("wb") as log:  # a file, not a pipe: a full pipe would stall the server
        process = subprocess.Popen(
            ["/bin/sh", "-c", f'ulimit -S -n {LOW_SOFT_LIMIT} && exec "$0" serve', RELAIS],
            env=environment, cwd=folder, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    served = Served(port, folder, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, (folder / "serve.log").read_text()
        try:
            health = _healthz(port)
            if health.status_code == 200:
                served.offset = parsedate_to_datetime(health.headers["Date"]).timestamp() - time.time()
                return served
        except httpx.TransportError:
            time.sleep(0.05)
    _stop(served)
    raise AssertionError("relais serve did not come up")


def _stop(served: Served) -> str:
    if served.process.poll() is None:
        served.process.terminate()
        try:
            served.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait()
    return (served.folder / "serve.log").read_text()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = _serve(tmp_path_factory.mktemp("serve"))
    yield server
    log = _stop(server)
    assert "Traceback" not in log, log
    assert SIGNING_SECRET not in log


def _head(
    content_length: int,
    *,
    now: int,
    timestamp: int | str | None = None,
    signed: bool = True,
    body: bytes = b"",
) -> bytes:
    """A request head for /slack/events: X-Slack headers signed `now` and well-formed (signing `body`,
    which the caller may or may not send) unless told otherwise."""
    ts: int | str = now if timestamp is None else timestamp
    lines = [
        "POST /slack/events HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: {FORM}",
        f"Content-Length: {content_length}",
    ]
    if signed:
        digest = signature("wrong", ts if isinstance(ts, int) else 0, body)
        lines += [f"X-Slack-Request-Timestamp: {ts}", f"X-Slack-Signature: {digest}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()  # UTF-8 for the odd digits: bytes on the wire


def _response(sock: socket.socket, within: float) -> bytes:
    """What the server sends within `within` seconds (stopping at the first bytes)."""
    sock.settimeout(within)
    try:
        return sock.recv(65536)
    except TimeoutError:
        return b""


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if readable:
            try:
                if sock.recv(65536) == b"":
                    return True
            except ConnectionError:
                return True
    return False


def _status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response
    return int(response.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(lambda now: _head(1000, now=now, signed=False), id="no X-Slack headers"),
        pytest.param(lambda now: _head(1000, now=now, timestamp=now - 600), id="signed ten minutes ago"),
        pytest.param(lambda now: _head(1000, now=now, timestamp=now + 600), id="signed in the future"),
        pytest.param(
            lambda now: _head(1000, now=now).replace(b"X-Slack-Signature: v0=", b"X-Slack-Signature: v1="),
            id="malformed signature",
        ),
        pytest.param(
            lambda now: _head(1000, now=now, timestamp="١٧٠٠٠٠٠٠٠٠"), id="timestamp in other digits"
        ),
    ],
)
def test_missing_or_stale_slack_headers_get_401_before_the_body(
    served: Served, head: Callable[[int], bytes]
) -> None:
    with served.connect() as sock:
        sock.sendall(head(served.now()))  # and never the 1,000 bytes announced
        response = _response(sock, within=2)
        assert _status(response) == 401
        assert _closed_within(sock, 3)


def test_a_huge_content_length_gets_413_without_reading(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(_head(10**12, now=served.now()))
        response = _response(sock, within=2)
        assert _status(response) == 413
        assert _closed_within(sock, 3)


def _trickle_until_answered(sock: socket.socket, seconds: float) -> tuple[bytes, float]:
    """Send one byte every half second until the server answers or closes; (answer, seconds taken)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            sock.sendall(b"a")
        except ConnectionError:
            return b"", time.monotonic() - started
        readable, _, _ = select.select([sock], [], [], 0.5)
        if readable:
            try:
                return sock.recv(65536), time.monotonic() - started
            except ConnectionError:
                return b"", time.monotonic() - started
    raise AssertionError(f"still reading the trickle after {seconds} s")


def test_a_trickled_body_is_cut_off(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(_head(1000, now=served.now()))
        response, took = _trickle_until_answered(sock, BODY_TIMEOUT_SECONDS + 3)
        assert _status(response) == 408
        assert took < BODY_TIMEOUT_SECONDS + 2
        assert _closed_within(sock, 3)


def test_a_trickled_header_is_cut_off(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ")
        response, took = _trickle_until_answered(sock, HEADER_TIMEOUT_SECONDS + 3)
        assert response == b""  # closed without an answer: no request was ever made
        assert took < HEADER_TIMEOUT_SECONDS + 2


def test_healthz_answers_while_many_slow_connections_are_open(served: Served) -> None:
    with ExitStack() as stack:
        slow = []
        for _ in range(200):
            sock = stack.enter_context(served.connect())
            sock.sendall(_head(1000, now=served.now()) + b"a")
            slow.append(sock)
        health = _healthz(served.port, timeout=3)
        assert health.status_code == 200
        # Every one of them is then cut off, none left holding a connection.
        deadline = time.monotonic() + BODY_TIMEOUT_SECONDS + 3
        answers = [_response(sock, within=max(deadline - time.monotonic(), 0.01)) for sock in slow]
        assert sorted({_status(answer) for answer in answers}) == [408]


def test_healthz_is_503_once_the_database_file_is_deleted(tmp_path: Path) -> None:
    """The server's open connections keep reading and writing the deleted file, so a plain `SELECT 1`
    still answered: 200, and clicks confirmed into a file nobody will ever read again."""
    server = _serve(tmp_path)
    try:
        assert _healthz(server.port).json() == {"status": "ok", "database": "ok"}
        (tmp_path / "relais.db").unlink()
        health = _healthz(server.port)
        assert health.status_code == 503
        assert health.json() == {"status": "unavailable", "database": "unavailable"}
    finally:
        log = _stop(server)
    assert "Traceback" not in log, log


def test_a_signed_request_still_reaches_the_app(served: Served) -> None:
    """The door lets Slack in: a correctly signed request is answered by the app."""
    body = b'{"type": "url_verification", "challenge": "c-123", "token": "t"}'
    headers = signed_headers(SIGNING_SECRET, body, timestamp=served.now())
    response = httpx.post(
        f"http://127.0.0.1:{served.port}/slack/events", content=body, headers=headers, timeout=10
    )
    assert response.status_code == 200
    assert response.json() == {"challenge": "c-123"}


async def test_a_chunked_body_over_the_limit_gets_413(
    make_settings: SettingsFactory, engine: AsyncEngine
) -> None:
    """Without a Content-Length the size is known only while reading: the read stops at the limit."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"a" * 65536

    body_headers = signed_headers(SIGNING_SECRET, b"", content_type=FORM)
    async with running(create_app(make_settings(), engine=engine)) as client:
        response = await client.post("/slack/events", content=chunks(), headers=body_headers)
    assert response.status_code == 413


@pytest.mark.parametrize("code", ["%00abc", "abc%00", "%E2%80%AEabc", "a%20b", "%F0%9F%99%82"])
async def test_a_link_code_that_cannot_be_ours_is_404_without_a_lookup(
    make_settings: SettingsFactory, engine: AsyncEngine, code: str
) -> None:
    """Codes are url-safe base64. A NUL in one reached PostgreSQL, which refuses it in text: HTTP 503."""
    before = await row_counts(engine)
    async with running(create_app(make_settings(), engine=engine)) as client:
        response = await client.get(f"/r/{code}")
    assert response.status_code == 404
    assert await row_counts(engine) == before


async def test_healthz_is_503_on_a_database_without_the_schema(
    make_settings: SettingsFactory, empty_database_url: str
) -> None:
    """The database answers, but Relais's tables are not there (a wrong database, a dropped schema, a
    new empty SQLite file): every click would fail, so the load balancer must hear it."""
    async with running(create_app(make_settings(database_url=empty_database_url))) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable"}
