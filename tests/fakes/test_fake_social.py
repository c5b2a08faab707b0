"""The fake LinkedIn and X, driven only through a real `httpx.AsyncClient`, the way the app calls them."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from tests.fakes.social import FakeLinkedIn, FakeX, x_weighted_length

REDIRECT = "https://relais.example.com/oauth/callback"
LI_HEADERS = {"X-Restli-Protocol-Version": "2.0.0"}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _li_version(fake: FakeLinkedIn) -> str:
    return fake.active_versions[1]


def _li_post(sub: str, commentary: str) -> dict[str, Any]:
    return {
        "author": f"urn:li:person:{sub}",
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }


def _li_headers(fake: FakeLinkedIn, token: str) -> dict[str, str]:
    return {**LI_HEADERS, "LinkedIn-Version": _li_version(fake), "Authorization": f"Bearer {token}"}


# ------------------------------------------------------------------------------------------------------------
# LinkedIn


async def _li_authorize(fake: FakeLinkedIn, http: httpx.AsyncClient, **overrides: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": fake.client_id,
        "redirect_uri": REDIRECT,
        "state": "st-123",
        "scope": "openid profile w_member_social",
        **overrides,
    }
    return await http.get(f"{fake.auth_url}/authorization", params=params, follow_redirects=False)


async def test_linkedin_full_code_flow(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    response = await _li_authorize(linkedin, http)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    back = _query(location)
    assert back["state"] == "st-123"
    assert linkedin.authorization_requests[0]["scope"] == "openid profile w_member_social"

    token_form = {
        "grant_type": "authorization_code",
        "code": back["code"],
        "redirect_uri": REDIRECT,
        "client_id": linkedin.client_id,
        "client_secret": linkedin.client_secret,
    }
    token_response = await http.post(f"{linkedin.auth_url}/accessToken", data=token_form)
    assert token_response.status_code == 200
    grant = token_response.json()
    assert grant["expires_in"] == 5184000
    assert "w_member_social" in grant["scope"]
    token = grant["access_token"]
    assert linkedin.tokens[token].subject == linkedin.consenting

    # The code is single-use.
    again = await http.post(f"{linkedin.auth_url}/accessToken", data=token_form)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_request"

    me = await http.get(f"{linkedin.api_url}/v2/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    profile = me.json()
    assert profile["sub"] == linkedin.consenting
    assert profile["name"] == "Alice Martin"
    assert profile["locale"] == {"country": "US", "language": "en"}

    created = await http.post(
        f"{linkedin.api_url}/rest/posts",
        json=_li_post(profile["sub"], "Hello from Relais"),
        headers=_li_headers(linkedin, token),
    )
    assert created.status_code == 201
    assert created.content == b""
    urn = created.headers["x-restli-id"]
    assert urn.startswith("urn:li:share:")
    assert linkedin.posts[urn]["commentary"] == "Hello from Relais"
    assert linkedin.posts[urn]["author"] == f"urn:li:person:{profile['sub']}"
    assert linkedin.calls_to("create_post")[0].json["visibility"] == "PUBLIC"

    deleted = await http.delete(
        f"{linkedin.api_url}/rest/posts/{quote(urn, safe='')}", headers=_li_headers(linkedin, token)
    )
    assert deleted.status_code == 204
    assert urn not in linkedin.posts
    missing = await http.delete(
        f"{linkedin.api_url}/rest/posts/{quote(urn, safe='')}", headers=_li_headers(linkedin, token)
    )
    assert missing.status_code == 404


async def test_linkedin_denial_and_bad_requests(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    linkedin.deny_next()
    denied = _query((await _li_authorize(linkedin, http)).headers["location"])
    assert denied["error"] == "user_cancelled_login"
    assert denied["error_description"]
    assert denied["state"] == "st-123"
    assert "code" not in denied

    bad_client = await _li_authorize(linkedin, http, client_id="someone-else")
    assert bad_client.status_code == 400
    assert "location" not in bad_client.headers

    no_scope = _query((await _li_authorize(linkedin, http, scope="openid profile")).headers["location"])
    assert no_scope["error"] == "unauthorized_scope_error"

    code = _query((await _li_authorize(linkedin, http)).headers["location"])["code"]
    wrong_secret = await http.post(
        f"{linkedin.auth_url}/accessToken",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": linkedin.client_id,
            "client_secret": "nope",
        },
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    unknown = await http.post(
        f"{linkedin.auth_url}/accessToken",
        data={
            "grant_type": "authorization_code",
            "code": "made-up",
            "redirect_uri": REDIRECT,
            "client_id": linkedin.client_id,
            "client_secret": linkedin.client_secret,
        },
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_request"


async def test_linkedin_post_headers_are_required(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    sub = linkedin.consenting
    token = linkedin.issue_token(sub)
    url = f"{linkedin.api_url}/rest/posts"
    auth = {"Authorization": f"Bearer {token}"}

    no_version = await http.post(url, json=_li_post(sub, "a"), headers={**auth, **LI_HEADERS})
    assert no_version.status_code == 400
    assert no_version.json()["code"] == "VERSION_MISSING"
    malformed = await http.post(
        url, json=_li_post(sub, "a"), headers={**auth, **LI_HEADERS, "LinkedIn-Version": "2024-01"}
    )
    assert malformed.status_code == 400
    ancient = await http.post(
        url, json=_li_post(sub, "a"), headers={**auth, **LI_HEADERS, "LinkedIn-Version": "201901"}
    )
    assert ancient.status_code == 426
    no_restli = await http.post(
        url, json=_li_post(sub, "a"), headers={**auth, "LinkedIn-Version": _li_version(linkedin)}
    )
    assert no_restli.status_code == 400
    assert linkedin.posts == {}

    ok = await http.post(url, json=_li_post(sub, "a"), headers=_li_headers(linkedin, token))
    assert ok.status_code == 201
    assert [c.status for c in linkedin.calls_to("/rest/posts")] == [400, 400, 426, 400, 201]


async def test_linkedin_refusals(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    sub = linkedin.consenting
    token = linkedin.issue_token(sub)
    url = f"{linkedin.api_url}/rest/posts"
    headers = _li_headers(linkedin, token)

    wrong_author = await http.post(url, json=_li_post("someoneElse", "hi"), headers=headers)
    assert wrong_author.status_code == 403

    first = await http.post(url, json=_li_post(sub, "Same words"), headers=headers)
    assert first.status_code == 201
    duplicate = await http.post(url, json=_li_post(sub, "Same words"), headers=headers)
    assert duplicate.status_code == 422
    assert duplicate.json()["message"] == f"Content is a duplicate of {first.headers['x-restli-id']}"
    assert duplicate.json()["status"] == 422

    # Another member may say the same thing.
    other = linkedin.issue_token("bob42")
    same_text = await http.post(
        url, json=_li_post("bob42", "Same words"), headers=_li_headers(linkedin, other)
    )
    assert same_text.status_code == 201

    too_long = await http.post(url, json=_li_post(sub, "x" * 3001), headers=headers)
    assert too_long.status_code == 422
    just_right = await http.post(url, json=_li_post(sub, "y" * 3000), headers=headers)
    assert just_right.status_code == 201

    no_scope = linkedin.issue_token(sub, scope="openid profile")
    forbidden = await http.post(url, json=_li_post(sub, "z"), headers=_li_headers(linkedin, no_scope))
    assert forbidden.status_code == 403
    assert len(linkedin.posts) == 3


async def test_linkedin_article_content_and_the_images_api(
    linkedin: FakeLinkedIn, http: httpx.AsyncClient
) -> None:
    sub = linkedin.consenting
    token = linkedin.issue_token(sub)
    headers = _li_headers(linkedin, token)
    posts = f"{linkedin.api_url}/rest/posts"

    def with_article(commentary: str, **article: str) -> dict[str, Any]:
        return {**_li_post(sub, commentary), "content": {"article": article}}

    untitled = await http.post(posts, json=with_article("a", source="https://e.example/a"), headers=headers)
    assert untitled.status_code == 422
    assert "/content/article/title" in untitled.json()["message"]
    no_source = await http.post(posts, json=with_article("a", title="T"), headers=headers)
    assert no_source.status_code == 422
    unknown_image = await http.post(
        posts, json=with_article("a", source="https://e.example/a", title="T", thumbnail="urn:li:image:no"),
        headers=headers,
    )  # fmt: skip
    assert unknown_image.status_code == 422

    images = f"{linkedin.api_url}/rest/images?action=initializeUpload"
    someone_else = {"initializeUploadRequest": {"owner": "urn:li:person:other"}}
    assert (await http.post(images, json=someone_else, headers=headers)).status_code == 403
    mine = {"initializeUploadRequest": {"owner": f"urn:li:person:{sub}"}}
    init = await http.post(images, json=mine, headers=headers)
    assert init.status_code == 200
    value = init.json()["value"]
    waiting = await http.post(
        posts, json=with_article("a", source="https://e.example/a", title="T", thumbnail=value["image"]),
        headers=headers,
    )  # fmt: skip
    assert waiting.status_code == 422  # not uploaded yet
    unsigned = await http.put(value["uploadUrl"], content=b"\x89PNG")
    assert unsigned.status_code == 401
    uploaded = await http.put(
        value["uploadUrl"], content=b"\x89PNG", headers={"Authorization": f"Bearer {token}"}
    )
    assert uploaded.status_code == 201
    card = with_article("a", source="https://e.example/a", title="T", thumbnail=value["image"])
    assert (await http.post(posts, json=card, headers=headers)).status_code == 201
    # The same words with another article are not a duplicate; with the same article they are.
    other = with_article("a", source="https://e.example/b", title="T")
    assert (await http.post(posts, json=other, headers=headers)).status_code == 201
    assert (await http.post(posts, json=other, headers=headers)).status_code == 422
    assert linkedin.images[value["image"]]["data"] == b"\x89PNG"


async def test_x_daily_usage_caps_and_refused_deletes(x: FakeX, http: httpx.AsyncClient) -> None:
    token = x.issue_token(x.consenting)
    auth = {"Authorization": f"Bearer {token}"}
    x.app_daily_limit = 1
    first = await http.post(f"{x.api_url}/2/tweets", json={"text": "one"}, headers=auth)
    assert first.status_code == 201
    assert first.headers["x-app-limit-24hour-remaining"] == "0"
    capped = await http.post(f"{x.api_url}/2/tweets", json={"text": "two"}, headers=auth)
    assert capped.status_code == 429
    assert capped.headers["x-app-limit-24hour-remaining"] == "0"
    reset = int(capped.headers["x-app-limit-24hour-reset"])
    assert time.time() + 86_000 < reset <= time.time() + 86_401
    assert capped.headers["x-rate-limit-remaining"] != "0"  # the 15-minute window is not the cause
    tweet_id = first.json()["data"]["id"]
    x.undeletable.add(tweet_id)
    kept = await http.delete(f"{x.api_url}/2/tweets/{tweet_id}", headers=auth)
    assert (kept.status_code, kept.json()) == (200, {"data": {"deleted": False}})
    assert tweet_id in x.tweets


async def test_linkedin_expired_and_bad_tokens(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    token = linkedin.issue_token(linkedin.consenting)
    linkedin.expire_token(token)
    expired = await http.get(f"{linkedin.api_url}/v2/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401
    assert expired.json()["serviceErrorCode"] == 65601
    bogus = await http.get(f"{linkedin.api_url}/v2/userinfo", headers={"Authorization": "Bearer bogus"})
    assert bogus.status_code == 401
    assert bogus.json() == {"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401}
    post = await http.post(
        f"{linkedin.api_url}/rest/posts",
        json=_li_post(linkedin.consenting, "late"),
        headers=_li_headers(linkedin, token),
    )
    assert post.status_code == 401
    assert linkedin.posts == {}


async def test_linkedin_failure_injection_and_delay(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    sub = linkedin.consenting
    token = linkedin.issue_token(sub)
    url = f"{linkedin.api_url}/rest/posts"
    linkedin.fail_next("/rest/posts", status=429)
    linkedin.fail_next("create_post", status=503, times=1)

    limited = await http.post(url, json=_li_post(sub, "a"), headers=_li_headers(linkedin, token))
    assert limited.status_code == 429
    assert "retry-after" not in limited.headers
    assert limited.json()["status"] == 429
    unavailable = await http.post(url, json=_li_post(sub, "a"), headers=_li_headers(linkedin, token))
    assert unavailable.status_code == 503
    ok = await http.post(url, json=_li_post(sub, "a"), headers=_li_headers(linkedin, token))
    assert ok.status_code == 201

    linkedin.delay("userinfo", 1.0)
    with pytest.raises(httpx.ReadTimeout):
        await http.get(
            f"{linkedin.api_url}/v2/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=0.2
        )
    linkedin.delay("userinfo", 0)
    fast = await http.get(f"{linkedin.api_url}/v2/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert fast.status_code == 200


async def test_a_burst_answers_in_order_and_its_late_or_failed_requests_may_have_posted(
    linkedin: FakeLinkedIn, http: httpx.AsyncClient
) -> None:
    sub = linkedin.consenting
    token = linkedin.issue_token(sub)
    url = f"{linkedin.api_url}/rest/posts"
    linkedin.burst("create_post", 500, "500 after", "timeout", "ok", stall=0.6)

    async def post(text: str, wait: float = 5.0) -> int:
        response = await http.post(
            url, json=_li_post(sub, text), headers=_li_headers(linkedin, token), timeout=wait
        )
        return response.status_code

    assert await post("refused") == 500
    assert [p["commentary"] for p in linkedin.posts.values()] == []
    assert await post("failed after") == 500
    assert [p["commentary"] for p in linkedin.posts.values()] == ["failed after"]
    with pytest.raises(httpx.ReadTimeout):
        await post("late", wait=0.2)
    await linkedin.idle()
    assert [p["commentary"] for p in linkedin.posts.values()] == ["failed after", "late"]
    assert await post("normal") == 201
    assert await post("after the burst") == 201
    assert len(linkedin.posts) == 4
    with pytest.raises(ValueError, match="unknown answer"):
        linkedin.burst("create_post", "sometimes")


# ------------------------------------------------------------------------------------------------------------
# X


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def _x_authorize(
    fake: FakeX,
    http: httpx.AsyncClient,
    challenge: str,
    scope: str = "tweet.read tweet.write users.read offline.access",
) -> dict[str, str]:
    response = await http.get(
        fake.auth_url,
        params={
            "response_type": "code",
            "client_id": fake.client_id,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": "xyz",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        follow_redirects=False,
    )
    assert response.status_code == 302
    return _query(response.headers["location"])


def _basic(fake: FakeX, secret: str | None = None) -> httpx.BasicAuth:
    return httpx.BasicAuth(fake.client_id, secret if secret is not None else fake.client_secret)


async def test_x_pkce_flow_tweet_refresh_revoke(x: FakeX, http: httpx.AsyncClient) -> None:
    verifier, challenge = _pkce()
    back = await _x_authorize(x, http, challenge)
    assert back["state"] == "xyz"
    assert x.codes[back["code"]].code_challenge == challenge
    token_url = f"{x.api_url}/2/oauth2/token"
    form = {"grant_type": "authorization_code", "code": back["code"], "redirect_uri": REDIRECT}

    wrong = await http.post(token_url, data={**form, "code_verifier": "not-the-verifier"}, auth=_basic(x))
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_request"

    right = await http.post(token_url, data={**form, "code_verifier": verifier}, auth=_basic(x))
    assert right.status_code == 200
    grant = right.json()
    assert grant["token_type"] == "bearer"
    assert grant["expires_in"] == 7200
    assert set(grant["scope"].split()) == {"tweet.read", "tweet.write", "users.read", "offline.access"}
    assert grant["refresh_token"]
    bearer = {"Authorization": f"Bearer {grant['access_token']}"}

    me = await http.get(f"{x.api_url}/2/users/me", headers=bearer)
    assert me.status_code == 200
    assert me.json() == {"data": {"id": "1500000000000000001", "name": "Alice Martin", "username": "alice"}}

    tweet = await http.post(f"{x.api_url}/2/tweets", json={"text": "Hello X"}, headers=bearer)
    assert tweet.status_code == 201
    data = tweet.json()["data"]
    assert data["text"] == "Hello X"
    assert data["edit_history_tweet_ids"] == [data["id"]]
    assert x.tweets[data["id"]]["author_id"] == "1500000000000000001"
    gone = await http.delete(f"{x.api_url}/2/tweets/{data['id']}", headers=bearer)
    assert gone.status_code == 200
    assert gone.json() == {"data": {"deleted": True}}
    assert x.tweets == {}

    # Refresh rotates the refresh token: the old one works once.
    refresh_form = {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]}
    refreshed = await http.post(token_url, data={**refresh_form, "client_id": x.client_id})
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["refresh_token"] != grant["refresh_token"]
    assert new["access_token"] != grant["access_token"]
    reused = await http.post(token_url, data={**refresh_form, "client_id": x.client_id})
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_request"
    new_bearer = {"Authorization": f"Bearer {new['access_token']}"}
    assert (await http.get(f"{x.api_url}/2/users/me", headers=new_bearer)).status_code == 200

    revoked = await http.post(
        f"{x.api_url}/2/oauth2/revoke",
        data={"token": new["access_token"], "token_type_hint": "access_token"},
        auth=_basic(x),
    )
    assert revoked.status_code == 200
    assert revoked.json() == {"revoked": True}
    assert (await http.get(f"{x.api_url}/2/users/me", headers=new_bearer)).status_code == 401


async def test_x_oauth_refusals(x: FakeX, http: httpx.AsyncClient) -> None:
    x.deny_next()
    verifier, challenge = _pkce()
    denied = await _x_authorize(x, http, challenge)
    assert denied == {"error": "access_denied", "state": "xyz"}

    back = await _x_authorize(x, http, challenge, scope="tweet.read tweet.write users.read")
    form = {
        "grant_type": "authorization_code",
        "code": back["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    bad_secret = await http.post(f"{x.api_url}/2/oauth2/token", data=form, auth=_basic(x, "wrong"))
    assert bad_secret.status_code == 401
    public = await http.post(f"{x.api_url}/2/oauth2/token", data={**form, "client_id": x.client_id})
    assert public.status_code == 200
    assert "refresh_token" not in public.json()  # no offline.access
    used = await http.post(f"{x.api_url}/2/oauth2/token", data={**form, "client_id": x.client_id})
    assert used.status_code == 400


async def test_x_tweet_refusals(x: FakeX, http: httpx.AsyncClient) -> None:
    token = x.issue_token("1500000000000000001")
    bearer = {"Authorization": f"Bearer {token}"}
    url = f"{x.api_url}/2/tweets"

    assert (await http.post(url, json={"text": "Same"}, headers=bearer)).status_code == 201
    duplicate = await http.post(url, json={"text": "Same"}, headers=bearer)
    assert duplicate.status_code == 403
    assert duplicate.json() == {
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
    }
    other = {"Authorization": f"Bearer {x.issue_token('42')}"}
    assert (await http.post(url, json={"text": "Same"}, headers=other)).status_code == 201

    too_long = await http.post(url, json={"text": "a" * 281}, headers=bearer)
    assert too_long.status_code == 400
    problem = too_long.json()
    assert problem["title"] == "Invalid Request"
    assert problem["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert problem["errors"][0]["message"]

    # A URL counts 23 whatever its length; CJK counts 2.
    with_url = "b" * 256 + " https://relais.example.com/r/" + "c" * 100
    assert x_weighted_length(with_url) == 280
    assert (await http.post(url, json={"text": with_url}, headers=bearer)).status_code == 201
    assert (await http.post(url, json={"text": "日" * 141}, headers=bearer)).status_code == 400
    assert (await http.post(url, json={"text": "日" * 140}, headers=bearer)).status_code == 201
    assert len(x.tweets) == 4


async def test_x_rate_limit_headers_and_failures(x: FakeX, http: httpx.AsyncClient) -> None:
    bearer = {"Authorization": f"Bearer {x.issue_token('1500000000000000001')}"}
    url = f"{x.api_url}/2/tweets"
    first = await http.post(url, json={"text": "one"}, headers=bearer)
    second = await http.post(url, json={"text": "two"}, headers=bearer)
    assert first.headers["x-rate-limit-limit"] == "100"
    assert int(first.headers["x-rate-limit-remaining"]) == 99
    assert int(second.headers["x-rate-limit-remaining"]) == 98
    reset = int(second.headers["x-rate-limit-reset"])
    assert time.time() < reset <= time.time() + 901

    x.fail_next("/2/tweets", status=429)
    limited = await http.post(url, json={"text": "three"}, headers=bearer)
    assert limited.status_code == 429
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert int(limited.headers["x-rate-limit-reset"]) == reset
    assert "retry-after" not in limited.headers

    x.fail_next("create_tweet", status=500)
    x.fail_next("create_tweet", status=503)
    assert (await http.post(url, json={"text": "three"}, headers=bearer)).status_code == 500
    assert (await http.post(url, json={"text": "three"}, headers=bearer)).status_code == 503
    assert (await http.post(url, json={"text": "three"}, headers=bearer)).status_code == 201
    assert [t["text"] for t in x.tweets.values()] == ["one", "two", "three"]

    # Exhausting the window gives a real 429.
    x.rate_limits["me"] = 2
    me = f"{x.api_url}/2/users/me"
    assert [(await http.get(me, headers=bearer)).status_code for _ in range(3)] == [200, 200, 429]


async def test_x_expired_token_and_delay(x: FakeX, http: httpx.AsyncClient) -> None:
    token = x.issue_token("1500000000000000001")
    x.expire_token(token)
    expired = await http.post(
        f"{x.api_url}/2/tweets", json={"text": "late"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert expired.status_code == 401
    assert expired.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert "x-rate-limit-limit" in expired.headers
    assert x.tweets == {}

    fresh = x.issue_token("1500000000000000001")
    x.delay("me", 1.0)
    with pytest.raises(httpx.ReadTimeout):
        await http.get(f"{x.api_url}/2/users/me", headers={"Authorization": f"Bearer {fresh}"}, timeout=0.2)
    assert x.calls[-1].route == "me"
    assert x.calls[-1].headers["Authorization"] == f"Bearer {fresh}"
