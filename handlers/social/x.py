"""X: connect a member with OAuth 2.0 + PKCE, keep the connection alive by refresh, post and delete."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from bot.social import Article, Published, Rejected, SocialError, TokenSet, Unauthorized
from handlers.social.http import answer, send
from models import Network

log = logging.getLogger(__name__)

SCOPES = "tweet.read tweet.write users.read offline.access"  # offline.access: a refresh token


class XClient:
    """A confidential OAuth client (HTTP Basic at the token endpoint) that also uses PKCE, as X requires.
    Access tokens last two hours; refresh tokens rotate on every use."""

    network = Network.X
    uses_pkce = True
    can_refresh = True

    def __init__(
        self, *, http: httpx.AsyncClient, client_id: str, client_secret: str, auth_url: str, api_url: str
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._auth_url = auth_url.rstrip("/")
        self._api_url = api_url.rstrip("/")

    def __repr__(self) -> str:
        return f"XClient(client_id={self._client_id!r}, api_url={self._api_url!r})"

    def authorization_url(self, *, redirect_uri: str, state: str, code_challenge: str | None) -> str:
        if not code_challenge:
            raise ValueError("X needs a PKCE code challenge")
        query = {
            "response_type": "code",
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self._auth_url}?{urlencode(query, quote_via=quote)}"

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, now: datetime
    ) -> TokenSet:
        if not code_verifier:
            raise ValueError("X needs the PKCE code verifier")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        return await self._token(form, now=now)

    async def refresh(self, refresh_token: str, *, now: datetime) -> TokenSet:
        """A new token set; X rotates the refresh token, so the one returned replaces the one given."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        tokens = await self._token(form, now=now, refused=Unauthorized)
        if tokens.refresh_token is None:  # no rotation this time: the old one stays valid
            return TokenSet(tokens.access_token, refresh_token, tokens.expires_at, tokens.scopes)
        return tokens

    async def _token(
        self, form: dict[str, str], *, now: datetime, refused: type[SocialError] | None = None
    ) -> TokenSet:
        """Call the token endpoint. `refused`: what a 400 (invalid_request / invalid_grant) becomes."""

        def refine(status: int, detail: str) -> SocialError | None:
            return refused(detail, status=status) if refused is not None and status == 400 else None

        response = await send(
            self._http,
            "POST",
            f"{self._api_url}/2/oauth2/token",
            data=form,
            auth=(self._client_id, self._client_secret),
            refine=refine,
            now=now,
        )
        body: dict[str, Any] = answer(response)
        expires_in = body.get("expires_in")
        return TokenSet(
            access_token=str(answer(response, "access_token")),
            refresh_token=body.get("refresh_token"),
            expires_at=now + timedelta(seconds=expires_in) if isinstance(expires_in, int) else None,
            scopes=body.get("scope"),
        )

    async def person_id(self, access_token: str) -> str:
        response = await send(
            self._http, "GET", f"{self._api_url}/2/users/me", token=access_token, refine=_refine
        )
        return str(answer(response, "data", "id"))

    async def publish(
        self, access_token: str, *, person_id: str, text: str, now: datetime, article: Article | None = None
    ) -> Published:
        """Post `text`; X draws the card itself from the link in the text, so `article` is not sent."""
        response = await send(
            self._http,
            "POST",
            f"{self._api_url}/2/tweets",
            may_act=True,
            token=access_token,
            json={"text": text},
            refine=_refine,
            now=now,
        )
        post_id = str(answer(response, "data", "id", may_act=True))
        return Published(external_id=post_id, url=f"https://x.com/i/web/status/{post_id}")

    async def delete(self, access_token: str, *, external_id: str, now: datetime) -> bool:
        response = await send(
            self._http,
            "DELETE",
            f"{self._api_url}/2/tweets/{quote(external_id, safe='')}",
            token=access_token,
            ok=(404,),
            refine=_refine,
            now=now,
        )
        if response.status_code == 404:  # already gone
            return False
        if answer(response, "data", "deleted") is not True:  # 200 with `"deleted": false`: still there
            raise Rejected("not_deleted", "X answered deleted: false", status=response.status_code)
        return True

    async def revoke(self, token: str) -> bool:
        """Best effort when a member disconnects: a failure is logged (never the token) and reported False."""
        try:
            await send(
                self._http,
                "POST",
                f"{self._api_url}/2/oauth2/revoke",
                data={"token": token},
                auth=(self._client_id, self._client_secret),
            )
        except SocialError as exc:
            log.warning("X token revocation failed (%s, status %s): %s", exc.reason, exc.status, exc.detail)
            return False
        return True


def _refine(status: int, detail: str) -> SocialError | None:
    """X's refusals that are not about permissions: duplicate text (403) and text over 280 (400)."""
    if status == 403 and "duplicate" in detail.lower():
        return Rejected("duplicate", detail, status=status)
    if status in (400, 403) and "too long" in detail.lower():
        return Rejected("too_long", detail, status=status)
    return None
