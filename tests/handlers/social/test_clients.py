"""The real LinkedIn and X clients against the local fakes: OAuth, posting, undo and every error mapping."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bot.config import Settings
from bot.services.commentary import escape_commentary
from bot.social import (
    Article,
    Image,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    SocialClient,
    SocialError,
    TokenSet,
    Transient,
    Unauthorized,
    Unclear,
)
from handlers.social import build_social_clients, new_http_client
from handlers.social.linkedin import LinkedInClient, default_version
from handlers.social.x import XClient
from models import Network
from tests.fakes.social import FakeLinkedIn, FakeX

REDIRECT = "https://relais.example.com/oauth/callback"
X_USER = "1500000000000000001"
# The fakes sleep this long on a delayed route; the "slow" clients give up after SHORT seconds.
SHORT, DELAY = 0.1, 0.4


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with new_http_client(timeout=5.0) as client:
        yield client


@pytest.fixture
async def slow_http() -> AsyncIterator[httpx.AsyncClient]:
    async with new_http_client(timeout=SHORT) as client:
        yield client


def li_client(fake: FakeLinkedIn, http: httpx.AsyncClient, version: str | None = None) -> LinkedInClient:
    return LinkedInClient(
        http=http,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        auth_url=fake.auth_url,
        api_url=fake.api_url,
        version=version,
    )


def x_client(fake: FakeX, http: httpx.AsyncClient) -> XClient:
    return XClient(
        http=http,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        auth_url=fake.auth_url,
        api_url=fake.api_url,
    )


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def _consent(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Follow the authorization URL to the fake, which sends the member back: read where to."""
    response = await http.get(url, follow_redirects=False)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return _query(location)


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _now() -> datetime:
    return datetime.now(UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------------------------------------
# LinkedIn


async def test_linkedin_connect_publish_delete(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    client: SocialClient = li_client(linkedin, http)
    assert (client.network, client.uses_pkce, client.can_refresh) == (Network.LINKEDIN, False, False)
    url = client.authorization_url(redirect_uri=REDIRECT, state="st-1", code_challenge=None)
    assert url.startswith(f"{linkedin.auth_url}/authorization?")
    assert _query(url) == {
        "response_type": "code",
        "client_id": linkedin.client_id,
        "redirect_uri": REDIRECT,
        "state": "st-1",
        "scope": "openid profile w_member_social",
    }
    back = await _consent(http, url)
    assert back["state"] == "st-1"

    now = _now()
    tokens = await client.exchange_code(code=back["code"], redirect_uri=REDIRECT, code_verifier=None, now=now)
    assert tokens.access_token in linkedin.tokens
    assert tokens.refresh_token is None
    assert tokens.expires_at == now + timedelta(days=60)
    assert tokens.scopes == "openid,profile,w_member_social"
    form = linkedin.calls_to("access_token")[0].form
    assert form is not None
    assert form["client_secret"] == linkedin.client_secret
    assert form["redirect_uri"] == REDIRECT

    sub = await client.person_id(tokens.access_token)
    assert sub == linkedin.consenting

    text = "New post (read it): https://relais.example.com/r/ab_c #news *bold* @you [x] {y} <z> a|b ~ \\"
    published = await client.publish(tokens.access_token, person_id=sub, text=text, now=now)
    post = linkedin.posts[published.external_id]
    assert published.url == f"https://www.linkedin.com/feed/update/{published.external_id}/"
    assert post["author"] == f"urn:li:person:{sub}"
    assert post["commentary"] == escape_commentary(text)
    assert post["version"] == default_version(now)
    assert post["body"]["visibility"] == "PUBLIC"
    assert post["body"]["distribution"]["feedDistribution"] == "MAIN_FEED"
    assert post["body"]["lifecycleState"] == "PUBLISHED"
    assert post["body"]["isReshareDisabledByAuthor"] is False
    headers = linkedin.calls_to("create_post")[0].headers
    assert headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert headers["LinkedIn-Version"] == default_version(now)

    assert await client.delete(tokens.access_token, external_id=published.external_id, now=now) is True
    assert published.external_id in linkedin.deleted_posts
    assert linkedin.calls_to("delete_post")[0].headers["LinkedIn-Version"] == default_version(now)
    # Deleting again: already gone, which is what was wanted.
    assert await client.delete(tokens.access_token, external_id=published.external_id, now=now) is False


def test_linkedin_commentary_escapes_little_format() -> None:
    assert escape_commentary("plain words, 100% fine!") == "plain words, 100% fine!"
    assert escape_commentary("a(b)") == "a\\(b\\)"
    assert escape_commentary("\\|{}@[]()<>#*_~") == "".join("\\" + c for c in "\\|{}@[]()<>#*_~")
    assert escape_commentary("https://x.example/a_b?c=(d)") == "https://x.example/a\\_b?c=\\(d\\)"


def test_linkedin_hashtags_are_not_read_inside_links() -> None:
    text = "Setup: https://example.com/docs/#install #news (see http://a.example/#x)"
    assert escape_commentary(text) == (
        "Setup: https://example.com/docs/\\#install {hashtag|\\#|news} \\(see http://a.example/\\#x\\)"
    )


async def test_linkedin_article_card_with_a_thumbnail_through_the_images_api(
    linkedin: FakeLinkedIn, http: httpx.AsyncClient
) -> None:
    client = li_client(linkedin, http)
    token = linkedin.issue_token("782bbtaQ")
    image = Image(data=b"\x89PNG-bytes", content_type="image/png")
    article = Article(
        source="https://relais.example.com/r/abc", title="Acme", description="News", thumbnail=image
    )
    published = await client.publish(token, person_id="782bbtaQ", text="Mine", now=_now(), article=article)
    body = linkedin.posts[published.external_id]["body"]
    card = body["content"]["article"]
    assert {k: v for k, v in card.items() if k != "thumbnail"} == {
        "source": "https://relais.example.com/r/abc",
        "title": "Acme",
        "description": "News",
    }
    stored = linkedin.images[card["thumbnail"]]
    assert (stored["status"], stored["data"], stored["content_type"]) == (
        "AVAILABLE",
        image.data,
        "image/png",
    )
    upload = linkedin.calls_to("upload_image")[0]
    assert upload.method == "PUT"
    assert upload.headers["Authorization"] == f"Bearer {token}"


@pytest.mark.parametrize("route", ["initialize_image_upload", "upload_image"])
async def test_linkedin_a_failed_thumbnail_upload_posts_the_card_without_it(
    linkedin: FakeLinkedIn, http: httpx.AsyncClient, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = li_client(linkedin, http)
    token = linkedin.issue_token("782bbtaQ")
    linkedin.fail_next(route, status=503)
    image = Image(data=b"GIF89a", content_type="image/gif")
    article = Article(source="https://relais.example.com/r/abc", title="Acme", thumbnail=image)
    published = await client.publish(token, person_id="782bbtaQ", text="Mine", now=_now(), article=article)
    assert linkedin.posts[published.external_id]["body"]["content"] == {
        "article": {"source": "https://relais.example.com/r/abc", "title": "Acme"}
    }
    assert "thumbnail upload failed" in caplog.text
    assert token not in caplog.text


async def test_linkedin_the_token_goes_to_no_foreign_upload_host(
    linkedin: FakeLinkedIn, http: httpx.AsyncClient
) -> None:
    client = li_client(linkedin, http)
    token = linkedin.issue_token("782bbtaQ")
    # An upload URL on another host (the fake under another name) gets the bytes, not the token.
    foreign = linkedin.base_url.replace("127.0.0.1", "localhost") + "/dms-uploads/nope"
    linkedin.fail_next(
        "initialize_image_upload",
        status=200,
        json={"value": {"uploadUrl": foreign, "image": "urn:li:image:x"}},
    )
    article = Article(
        source="https://relais.example.com/r/abc", title="Acme", thumbnail=Image(b"x", "image/png")
    )
    published = await client.publish(token, person_id="782bbtaQ", text="Mine", now=_now(), article=article)
    assert "thumbnail" not in linkedin.posts[published.external_id]["body"]["content"]["article"]
    [upload] = linkedin.calls_to("upload_image")
    assert "Authorization" not in upload.headers


def test_linkedin_default_version_is_two_months_back() -> None:
    assert default_version(datetime(2026, 3, 15, tzinfo=UTC)) == "202601"
    assert default_version(datetime(2026, 2, 1, tzinfo=UTC)) == "202512"
    assert default_version(datetime(2026, 1, 31, tzinfo=UTC)) == "202511"
    assert default_version(datetime(2026, 12, 1, tzinfo=UTC)) == "202610"


async def test_linkedin_configured_version_is_sent(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    oldest = linkedin.active_versions[0]
    client = li_client(linkedin, http, version=oldest)
    token = linkedin.issue_token(linkedin.consenting)
    published = await client.publish(token, person_id=linkedin.consenting, text="hello", now=_now())
    assert linkedin.posts[published.external_id]["version"] == oldest


async def test_linkedin_cannot_refresh_or_revoke(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    client = li_client(linkedin, http)
    with pytest.raises(Unauthorized):
        await client.refresh("anything", now=_now())
    assert await client.revoke(linkedin.issue_token(linkedin.consenting)) is False
    assert linkedin.calls == []


async def test_linkedin_refusals(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    client = li_client(linkedin, http)
    sub = linkedin.consenting
    token = linkedin.issue_token(sub)
    now = _now()

    await client.publish(token, person_id=sub, text="Same words", now=now)
    with pytest.raises(Rejected) as duplicate:
        await client.publish(token, person_id=sub, text="Same words", now=now)
    assert (duplicate.value.reason, duplicate.value.status) == ("duplicate", 422)
    assert "duplicate" in duplicate.value.detail

    with pytest.raises(Rejected) as too_long:
        await client.publish(token, person_id=sub, text="x" * 3001, now=now)
    assert too_long.value.reason == "too_long"

    with pytest.raises(Rejected) as wrong_author:
        await client.publish(token, person_id="someoneElse", text="hi", now=now)
    assert (wrong_author.value.reason, wrong_author.value.status) == ("forbidden", 403)

    with pytest.raises(Rejected) as old_version:
        await li_client(linkedin, http, version="201901").publish(token, person_id=sub, text="v", now=now)
    assert (old_version.value.reason, old_version.value.status) == ("invalid", 426)
    assert "201901" in old_version.value.detail
    assert "LINKEDIN_VERSION" in old_version.value.detail

    linkedin.expire_token(token)
    with pytest.raises(Unauthorized):
        await client.person_id(token)
    with pytest.raises(Unauthorized):
        await client.publish(token, person_id=sub, text="late", now=now)
    assert len(linkedin.posts) == 1


async def test_linkedin_code_exchange_refusals(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    client = li_client(linkedin, http)
    url = client.authorization_url(redirect_uri=REDIRECT, state="s", code_challenge=None)
    code = (await _consent(http, url))["code"]
    now = _now()
    wrong_secret = LinkedInClient(
        http=http,
        client_id=linkedin.client_id,
        client_secret="nope",
        auth_url=linkedin.auth_url,
        api_url=linkedin.api_url,
    )
    with pytest.raises(Unauthorized) as unauthorized:
        await wrong_secret.exchange_code(code=code, redirect_uri=REDIRECT, code_verifier=None, now=now)
    assert "nope" not in str(unauthorized.value)
    await client.exchange_code(code=code, redirect_uri=REDIRECT, code_verifier=None, now=now)
    with pytest.raises(Rejected) as used:
        await client.exchange_code(code=code, redirect_uri=REDIRECT, code_verifier=None, now=now)
    assert (used.value.reason, used.value.status) == ("invalid", 400)
    assert code not in str(used.value)


@pytest.mark.parametrize(
    ("status", "on_publish", "on_read"),
    [
        (500, Unclear, Transient),  # a post may have been made before the error
        (502, Unclear, Transient),
        (503, Transient, Transient),
        (504, OutcomeUnknown, Transient),
        (401, Unauthorized, Unauthorized),
        (403, Rejected, Rejected),
        (400, Rejected, Rejected),
        (404, Rejected, Rejected),
    ],
)
async def test_linkedin_status_mapping(
    linkedin: FakeLinkedIn,
    http: httpx.AsyncClient,
    status: int,
    on_publish: type[SocialError],
    on_read: type[SocialError],
) -> None:
    client = li_client(linkedin, http)
    token = linkedin.issue_token(linkedin.consenting)
    linkedin.fail_next("create_post", status=status)
    with pytest.raises(on_publish) as publish:
        await client.publish(token, person_id=linkedin.consenting, text="t", now=_now())
    assert publish.value.status == status
    assert type(publish.value) is on_publish
    linkedin.fail_next("userinfo", status=status)
    with pytest.raises(on_read) as read:
        await client.person_id(token)
    assert type(read.value) is on_read
    if status == 403:
        assert publish.value.reason == "forbidden"
    elif status in (400, 404):
        assert publish.value.reason == "invalid"
    assert linkedin.posts == {}


async def test_linkedin_rate_limits(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    client = li_client(linkedin, http)
    token = linkedin.issue_token(linkedin.consenting)
    now = _now()

    linkedin.fail_next("create_post", status=429)
    with pytest.raises(RateLimited) as unknown:
        await client.publish(token, person_id=linkedin.consenting, text="t", now=now)
    assert unknown.value.retry_at is None
    assert "throttle" in unknown.value.detail

    linkedin.fail_next("create_post", status=429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as seconds:
        await client.publish(token, person_id=linkedin.consenting, text="t", now=now)
    assert seconds.value.retry_at == now + timedelta(seconds=120)

    when = (now + timedelta(hours=3)).replace(microsecond=0)
    linkedin.fail_next("delete_post", status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    with pytest.raises(RateLimited) as date:
        await client.delete(token, external_id="urn:li:share:1", now=now)
    assert date.value.retry_at == when


async def test_linkedin_timeouts(
    linkedin: FakeLinkedIn, http: httpx.AsyncClient, slow_http: httpx.AsyncClient
) -> None:
    client = li_client(linkedin, slow_http)
    token = linkedin.issue_token(linkedin.consenting)
    linkedin.delay("create_post", DELAY)
    with pytest.raises(OutcomeUnknown):
        await client.publish(token, person_id=linkedin.consenting, text="slow", now=_now())
    linkedin.delay("userinfo", DELAY)
    with pytest.raises(Transient):
        await client.person_id(token)
    await asyncio.sleep(DELAY)
    # The post was made although no answer came back: why this must never be retried blindly.
    assert [p["commentary"] for p in linkedin.posts.values()] == ["slow"]


# ------------------------------------------------------------------------------------------------------------
# X


async def test_x_connect_publish_delete_refresh_revoke(x: FakeX, http: httpx.AsyncClient) -> None:
    client: SocialClient = x_client(x, http)
    assert (client.network, client.uses_pkce, client.can_refresh) == (Network.X, True, True)
    verifier, challenge = _pkce()
    url = client.authorization_url(redirect_uri=REDIRECT, state="st-2", code_challenge=challenge)
    assert url.startswith(x.auth_url + "?")
    assert _query(url) == {
        "response_type": "code",
        "client_id": x.client_id,
        "redirect_uri": REDIRECT,
        "scope": "tweet.read tweet.write users.read offline.access",
        "state": "st-2",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    back = await _consent(http, url)
    assert back["state"] == "st-2"

    now = _now()
    tokens = await client.exchange_code(
        code=back["code"], redirect_uri=REDIRECT, code_verifier=verifier, now=now
    )
    assert tokens.access_token in x.tokens
    assert tokens.refresh_token in x.refresh_tokens
    assert tokens.expires_at == now + timedelta(hours=2)
    assert tokens.scopes == "tweet.read tweet.write users.read offline.access"
    token_call = x.calls_to("token")[0]
    assert token_call.headers["Authorization"].startswith("Basic ")
    assert token_call.form is not None
    assert token_call.form["code_verifier"] == verifier

    assert await client.person_id(tokens.access_token) == X_USER
    published = await client.publish(tokens.access_token, person_id=X_USER, text="Hello (X) #1", now=now)
    assert x.tweets[published.external_id]["text"] == "Hello (X) #1"  # no escaping on X
    assert x.tweets[published.external_id]["author_id"] == X_USER
    assert published.url == f"https://x.com/i/web/status/{published.external_id}"
    assert await client.delete(tokens.access_token, external_id=published.external_id, now=now) is True
    assert x.tweets == {}
    assert await client.delete(tokens.access_token, external_id=published.external_id, now=now) is False

    # Refresh rotates the refresh token; the old one then means "reconnect".
    later = now + timedelta(hours=3)
    assert tokens.refresh_token is not None
    fresh = await client.refresh(tokens.refresh_token, now=later)
    assert fresh.refresh_token is not None
    assert fresh.refresh_token != tokens.refresh_token
    assert fresh.access_token != tokens.access_token
    assert fresh.expires_at == later + timedelta(hours=2)
    assert x.calls_to("token")[-1].headers["Authorization"].startswith("Basic ")
    with pytest.raises(Unauthorized) as reused:
        await client.refresh(tokens.refresh_token, now=later)
    assert reused.value.status == 400
    assert tokens.refresh_token not in str(reused.value)

    assert await client.revoke(fresh.access_token) is True
    assert x.revoked == [fresh.access_token]
    assert x.calls_to("revoke")[0].headers["Authorization"].startswith("Basic ")
    with pytest.raises(Unauthorized):
        await client.person_id(fresh.access_token)


async def test_x_needs_pkce(x: FakeX, http: httpx.AsyncClient) -> None:
    client = x_client(x, http)
    with pytest.raises(ValueError, match="PKCE"):
        client.authorization_url(redirect_uri=REDIRECT, state="s", code_challenge=None)
    _, challenge = _pkce()
    url = client.authorization_url(redirect_uri=REDIRECT, state="s", code_challenge=challenge)
    code = (await _consent(http, url))["code"]
    with pytest.raises(Rejected) as wrong:
        await client.exchange_code(code=code, redirect_uri=REDIRECT, code_verifier="other", now=_now())
    assert (wrong.value.reason, wrong.value.status) == ("invalid", 400)


async def test_x_refusals(x: FakeX, http: httpx.AsyncClient) -> None:
    client = x_client(x, http)
    token = x.issue_token(X_USER)
    now = _now()

    await client.publish(token, person_id=X_USER, text="Same", now=now)
    with pytest.raises(Rejected) as duplicate:
        await client.publish(token, person_id=X_USER, text="Same", now=now)
    assert (duplicate.value.reason, duplicate.value.status) == ("duplicate", 403)

    with pytest.raises(Rejected) as too_long:
        await client.publish(token, person_id=X_USER, text="a" * 281, now=now)
    assert (too_long.value.reason, too_long.value.status) == ("too_long", 400)
    assert "too long" in too_long.value.detail

    read_only = x.issue_token(X_USER, scope="tweet.read users.read")
    with pytest.raises(Rejected) as forbidden:
        await client.publish(read_only, person_id=X_USER, text="new", now=now)
    assert forbidden.value.reason == "forbidden"

    with pytest.raises(Rejected) as blank:
        await client.publish(token, person_id=X_USER, text="   ", now=now)
    assert (blank.value.reason, blank.value.status) == ("invalid", 400)

    x.expire_token(token)
    with pytest.raises(Unauthorized):
        await client.publish(token, person_id=X_USER, text="late", now=now)
    assert len(x.tweets) == 1


@pytest.mark.parametrize(
    ("status", "on_publish", "on_delete"),
    [
        (500, Unclear, Transient),
        (503, Transient, Transient),
        (504, OutcomeUnknown, Transient),
        (401, Unauthorized, Unauthorized),
        (400, Rejected, Rejected),
    ],
)
async def test_x_status_mapping(
    x: FakeX,
    http: httpx.AsyncClient,
    status: int,
    on_publish: type[SocialError],
    on_delete: type[SocialError],
) -> None:
    client = x_client(x, http)
    token = x.issue_token(X_USER)
    x.fail_next("create_tweet", status=status)
    with pytest.raises(on_publish) as publish:
        await client.publish(token, person_id=X_USER, text="t", now=_now())
    assert type(publish.value) is on_publish
    x.fail_next("delete_tweet", status=status)
    with pytest.raises(on_delete) as delete:
        await client.delete(token, external_id="1", now=_now())
    assert type(delete.value) is on_delete
    assert x.tweets == {}


async def test_x_rate_limits(x: FakeX, http: httpx.AsyncClient) -> None:
    client = x_client(x, http)
    token = x.issue_token(X_USER)
    now = _now()

    # X sends no Retry-After: the window's reset (epoch seconds) says when.
    x.rate_limits["me"] = 1
    await client.person_id(token)
    with pytest.raises(RateLimited) as exhausted:
        await client.person_id(token)
    assert exhausted.value.retry_at is not None
    assert exhausted.value.retry_at.microsecond == 0  # from the epoch seconds of x-rate-limit-reset
    assert now < exhausted.value.retry_at <= now + timedelta(seconds=901)

    x.fail_next("create_tweet", status=429, headers={"x-rate-limit-reset": "2000000000"})
    with pytest.raises(RateLimited) as injected:
        await client.publish(token, person_id=X_USER, text="t", now=now)
    assert injected.value.retry_at == datetime.fromtimestamp(2_000_000_000, UTC)

    x.fail_next("create_tweet", status=429, headers={"Retry-After": "60"})
    with pytest.raises(RateLimited) as retry_after:
        await client.publish(token, person_id=X_USER, text="t", now=now)
    assert retry_after.value.retry_at == now + timedelta(seconds=60)


@pytest.mark.parametrize("cap", ["app", "user"])
async def test_x_a_used_up_24_hour_usage_cap_waits_for_its_reset(
    x: FakeX, http: httpx.AsyncClient, cap: str
) -> None:
    client = x_client(x, http)
    token = x.issue_token(X_USER)
    now = _now()
    x.app_daily_limit, x.user_daily_limit = (1, None) if cap == "app" else (None, 1)
    await client.publish(token, person_id=X_USER, text="first", now=now)
    with pytest.raises(RateLimited) as capped:
        await client.publish(token, person_id=X_USER, text="second", now=now)
    [_, refused] = x.calls_to("create_tweet")
    assert refused.status == 429
    assert capped.value.retry_at is not None
    # The day's reset, not the 15-minute window's.
    assert now + timedelta(hours=23) < capped.value.retry_at <= now + timedelta(hours=24, seconds=1)
    assert len(x.tweets) == 1


async def test_x_usage_cap_headers_win_over_the_15_minute_window(x: FakeX, http: httpx.AsyncClient) -> None:
    client = x_client(x, http)
    token = x.issue_token(X_USER)
    now = _now()
    headers = {
        "x-rate-limit-reset": "2000000000",
        "x-app-limit-24hour-remaining": "0",
        "x-app-limit-24hour-reset": "2000050000",
        "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": "2000080000",
    }
    x.fail_next("create_tweet", status=429, headers=headers)
    with pytest.raises(RateLimited) as both:
        await client.publish(token, person_id=X_USER, text="t", now=now)
    assert both.value.retry_at == datetime.fromtimestamp(2_000_080_000, UTC)  # the later of the two caps
    # A cap with posts left does not hold anything up: the window's reset says when.
    x.fail_next("create_tweet", status=429, headers={**headers, "x-app-limit-24hour-remaining": "5",
                                                     "x-user-limit-24hour-remaining": "3"})  # fmt: skip
    with pytest.raises(RateLimited) as window:
        await client.publish(token, person_id=X_USER, text="t", now=now)
    assert window.value.retry_at == datetime.fromtimestamp(2_000_000_000, UTC)


async def test_x_delete_answering_deleted_false_is_not_undone(x: FakeX, http: httpx.AsyncClient) -> None:
    client = x_client(x, http)
    token = x.issue_token(X_USER)
    now = _now()
    published = await client.publish(token, person_id=X_USER, text="kept", now=now)
    x.undeletable.add(published.external_id)
    with pytest.raises(Rejected) as refused:
        await client.delete(token, external_id=published.external_id, now=now)
    assert refused.value.reason == "not_deleted"
    assert published.external_id in x.tweets
    x.undeletable.clear()
    assert await client.delete(token, external_id=published.external_id, now=now) is True
    assert await client.delete(token, external_id=published.external_id, now=now) is False  # already gone


async def test_x_timeouts(x: FakeX, slow_http: httpx.AsyncClient) -> None:
    client = x_client(x, slow_http)
    token = x.issue_token(X_USER)
    x.delay("create_tweet", DELAY)
    with pytest.raises(OutcomeUnknown):
        await client.publish(token, person_id=X_USER, text="slow", now=_now())
    x.delay("delete_tweet", DELAY)
    with pytest.raises(Transient):
        await client.delete(token, external_id="1", now=_now())
    x.delay("token", DELAY)
    with pytest.raises(Transient):
        await client.refresh("whatever", now=_now())
    await asyncio.sleep(DELAY)
    assert [t["text"] for t in x.tweets.values()] == ["slow"]


async def test_x_revoke_failure_is_logged_without_the_token(
    x: FakeX, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = x_client(x, http)
    token = x.issue_token(X_USER)
    x.fail_next("revoke", status=503, json={"detail": f"cannot revoke {token}"})
    with caplog.at_level(logging.WARNING, logger="handlers.social.x"):
        assert await client.revoke(token) is False
    assert "revocation failed" in caplog.text
    assert token not in caplog.text
    assert token in x.tokens


# ------------------------------------------------------------------------------------------------------------
# transport failures, shared by both clients


async def test_connection_refused_is_transient_even_for_publish(http: httpx.AsyncClient) -> None:
    base = f"http://127.0.0.1:{_free_port()}"
    client = XClient(http=http, client_id="id", client_secret="secret", auth_url=base, api_url=base)
    with pytest.raises(Transient) as refused:
        await client.publish("token-1", person_id=X_USER, text="t", now=_now())
    assert refused.value.status is None
    assert "ConnectError" in refused.value.detail


async def test_dropped_connection(http: httpx.AsyncClient) -> None:
    """A server that reads the request and hangs up: it may have acted, so publishing is OutcomeUnknown."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    client = LinkedInClient(http=http, client_id="id", client_secret="secret", auth_url=base, api_url=base)
    async with server:
        with pytest.raises(OutcomeUnknown) as publish:
            await client.publish("token-1", person_id="p", text="t", now=_now())
        assert "RemoteProtocolError" in publish.value.detail
        with pytest.raises(Transient):
            await client.person_id("token-1")


@pytest.mark.parametrize(
    ("error", "on_publish"),
    [
        (httpx.ConnectTimeout, Transient),
        (httpx.PoolTimeout, Transient),
        (httpx.ConnectError, Transient),
        (httpx.ReadTimeout, OutcomeUnknown),
        (httpx.WriteTimeout, OutcomeUnknown),
        (httpx.ReadError, OutcomeUnknown),
        (httpx.RemoteProtocolError, OutcomeUnknown),
    ],
)
async def test_transport_errors(error: type[httpx.TransportError], on_publish: type[SocialError]) -> None:
    """The failures a local server cannot stage on demand, raised by a mock transport."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as http:
        base = "http://social.invalid"
        clients: list[SocialClient] = [
            XClient(http=http, client_id="id", client_secret="s", auth_url=base, api_url=base),
            LinkedInClient(http=http, client_id="id", client_secret="s", auth_url=base, api_url=base),
        ]
        for client in clients:
            with pytest.raises(on_publish) as publish:
                await client.publish("token-1", person_id="p", text="t", now=_now())
            assert type(publish.value) is on_publish
            with pytest.raises(Transient):
                await client.delete("token-1", external_id="urn:li:share:1", now=_now())
            with pytest.raises(Transient):
                await client.person_id("token-1")


# ------------------------------------------------------------------------------------------------------------
# no token in any message


def _everything_said(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


async def test_no_token_in_errors_or_reprs(
    linkedin: FakeLinkedIn, x: FakeX, http: httpx.AsyncClient, slow_http: httpx.AsyncClient
) -> None:
    li_token = linkedin.issue_token(linkedin.consenting)
    x_token = x.issue_token(X_USER)
    attempts: list[tuple[str, Callable[[], Awaitable[object]]]] = []

    # A provider that echoes the token in its error body.
    linkedin.fail_next("userinfo", status=400, json={"message": f"bad token {li_token}", "status": 400})
    x.fail_next("create_tweet", status=403, json={"detail": f"token {x_token} is not allowed"})
    attempts.append((li_token, lambda: li_client(linkedin, http).person_id(li_token)))
    attempts.append(
        (x_token, lambda: x_client(x, http).publish(x_token, person_id=X_USER, text="t", now=_now()))
    )
    # Timeouts: the httpx exception holds the request (and its Authorization header).
    x.delay("me", DELAY)
    attempts.append((x_token, lambda: x_client(x, slow_http).person_id(x_token)))
    # Plain refusals.
    linkedin.expire_token(li_token)
    attempts.append(
        (li_token, lambda: li_client(linkedin, http).publish(li_token, person_id="p", text="t", now=_now()))
    )

    for token, attempt in attempts:
        with pytest.raises(SocialError) as caught:
            await attempt()
        said = _everything_said(caught.value)
        assert token not in said
        assert caught.value.__cause__ is None

    tokens = TokenSet(
        access_token="access-secret", refresh_token="refresh-secret", expires_at=None, scopes="a"
    )
    assert "secret" not in repr(tokens)
    assert "secret" not in repr(li_client(linkedin, http))
    assert "secret" not in repr(x_client(x, http))


# ------------------------------------------------------------------------------------------------------------
# wiring


async def test_build_social_clients(http: httpx.AsyncClient) -> None:
    none = Settings(_env_file=None)
    assert build_social_clients(none, http) == {}

    only_linkedin = Settings(
        _env_file=None,
        linkedin_client_id="li-id",
        linkedin_client_secret="li-secret",
        linkedin_version="202601",
    )
    clients = build_social_clients(only_linkedin, http)
    assert set(clients) == {Network.LINKEDIN}
    linkedin = clients[Network.LINKEDIN]
    assert isinstance(linkedin, LinkedInClient)
    assert linkedin.authorization_url(redirect_uri=REDIRECT, state="s", code_challenge=None).startswith(
        "https://www.linkedin.com/oauth/v2/authorization?"
    )

    both = Settings(
        _env_file=None,
        linkedin_client_id="li-id",
        linkedin_client_secret="li-secret",
        x_client_id="x-id",
        x_client_secret="x-secret",
    )
    clients = build_social_clients(both, http)
    assert set(clients) == {Network.LINKEDIN, Network.X}
    assert isinstance(clients[Network.X], XClient)
    assert (
        clients[Network.X]
        .authorization_url(redirect_uri=REDIRECT, state="s", code_challenge="c")
        .startswith("https://x.com/i/oauth2/authorize?")
    )


async def test_new_http_client() -> None:
    async with new_http_client(timeout=7.0) as http:
        assert http.timeout == httpx.Timeout(7.0, connect=5.0)
        assert http.follow_redirects is False
