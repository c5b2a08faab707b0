"""LinkedIn: sign in with OpenID, post on a member's behalf ("Share on LinkedIn") and take posts back."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from bot.services.commentary import escape_commentary
from bot.social import (
    Article,
    Image,
    OutcomeUnknown,
    Published,
    Rejected,
    SocialError,
    TokenSet,
    Unauthorized,
)
from handlers.social.http import Refine, answer, safe_text, send
from models import Network

log = logging.getLogger(__name__)

SCOPES = "openid profile w_member_social"


def default_version(now: datetime) -> str:
    """The month two months before `now` as YYYYMM: published already and, as each version lives at least
    a year, still live for months."""
    index = now.year * 12 + now.month - 1 - 2
    return f"{index // 12:04d}{index % 12 + 1:02d}"


class LinkedInClient:
    """A confidential OAuth client without PKCE; LinkedIn gives ordinary apps no refresh tokens, so members
    reconnect when the 60-day token ends."""

    network = Network.LINKEDIN
    uses_pkce = False
    can_refresh = False

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        client_id: str,
        client_secret: str,
        auth_url: str,
        api_url: str,
        version: str | None = None,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._auth_url = auth_url.rstrip("/")
        self._api_url = api_url.rstrip("/")
        self._version = version

    def __repr__(self) -> str:
        return f"LinkedInClient(client_id={self._client_id!r}, api_url={self._api_url!r})"

    def authorization_url(self, *, redirect_uri: str, state: str, code_challenge: str | None) -> str:
        query = {
            "response_type": "code",
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": SCOPES,
        }
        return f"{self._auth_url}/authorization?{urlencode(query, quote_via=quote)}"

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, now: datetime
    ) -> TokenSet:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        response = await send(self._http, "POST", f"{self._auth_url}/accessToken", data=form, now=now)
        body = answer(response)
        expires_in = body.get("expires_in")
        return TokenSet(
            access_token=str(answer(response, "access_token")),
            refresh_token=body.get("refresh_token"),
            expires_at=now + timedelta(seconds=expires_in) if isinstance(expires_in, int) else None,
            scopes=body.get("scope"),
        )

    async def refresh(self, refresh_token: str, *, now: datetime) -> TokenSet:
        raise Unauthorized("LinkedIn tokens cannot be refreshed: the member must reconnect")

    async def person_id(self, access_token: str) -> str:
        response = await send(self._http, "GET", f"{self._api_url}/v2/userinfo", token=access_token)
        return str(answer(response, "sub"))

    async def publish(
        self, access_token: str, *, person_id: str, text: str, now: datetime, article: Article | None = None
    ) -> Published:
        """Post `text` as commentary; the `article` (LinkedIn does not scrape links in commentary) becomes
        the post's card, with its thumbnail uploaded first when there is one (without it if that fails)."""
        version = self._version or default_version(now)
        author = f"urn:li:person:{person_id}"
        body: dict[str, Any] = {
            "author": author,
            "commentary": escape_commentary(text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if article is not None:
            card: dict[str, str] = {"source": article.source, "title": article.title}
            if article.description:
                card["description"] = article.description
            if article.thumbnail is not None:
                image = await self._upload_image(access_token, author, article.thumbnail, version, now)
                if image is not None:
                    card["thumbnail"] = image
            body["content"] = {"article": card}
        response = await send(
            self._http,
            "POST",
            f"{self._api_url}/rest/posts",
            may_act=True,
            token=access_token,
            headers=_rest_headers(version),
            json=body,
            refine=_refine(version),
            now=now,
        )
        urn = response.headers.get("x-restli-id", "")
        if not urn:
            raise OutcomeUnknown("no x-restli-id in LinkedIn's answer", status=response.status_code)
        return Published(external_id=urn, url=f"https://www.linkedin.com/feed/update/{urn}/")

    async def _upload_image(
        self, access_token: str, owner: str, image: Image, version: str, now: datetime
    ) -> str | None:
        """The Images API: initializeUpload, then PUT the bytes to the upload URL it gives. The image's URN,
        or None (logged) if any step fails: the card is then posted without a thumbnail."""
        try:
            response = await send(
                self._http,
                "POST",
                f"{self._api_url}/rest/images?action=initializeUpload",
                token=access_token,
                headers=_rest_headers(version),
                json={"initializeUploadRequest": {"owner": owner}},
                refine=_refine(version),
                now=now,
            )
            upload_url, urn = answer(response, "value", "uploadUrl"), answer(response, "value", "image")
            if not isinstance(upload_url, str) or not isinstance(urn, str):
                raise Rejected("invalid", "initializeUpload answered no uploadUrl or image")
            # The bearer token goes only to LinkedIn's own hosts (or the configured API's).
            host = urlsplit(upload_url).hostname or ""
            trusted = host == urlsplit(self._api_url).hostname or host.endswith(".linkedin.com")
            await send(
                self._http,
                "PUT",
                upload_url,
                token=access_token if trusted else None,
                headers={"Content-Type": image.content_type},
                content=image.data,
                now=now,
            )
        except (SocialError, httpx.HTTPError, ValueError) as exc:
            detail = exc.detail if isinstance(exc, SocialError) else type(exc).__name__
            log.warning("LinkedIn thumbnail upload failed, posting the card without it: %s", detail)
            return None
        return urn

    async def delete(self, access_token: str, *, external_id: str, now: datetime) -> bool:
        version = self._version or default_version(now)
        response = await send(
            self._http,
            "DELETE",
            f"{self._api_url}/rest/posts/{quote(external_id, safe='')}",
            token=access_token,
            headers=_rest_headers(version),
            ok=(404,),
            refine=_refine(version),
            now=now,
        )
        return response.status_code != 404  # 404: already gone

    async def revoke(self, token: str) -> bool:
        """LinkedIn offers no revocation endpoint to these apps: the token simply lapses."""
        return False


def _rest_headers(version: str) -> dict[str, str]:
    return {"LinkedIn-Version": version, "X-Restli-Protocol-Version": "2.0.0"}


def _refine(version: str) -> Refine:
    """LinkedIn's 422 (duplicate, too long) and 426 (the LinkedIn-Version sent is not active)."""

    def refine(status: int, detail: str) -> SocialError | None:
        if status == 422 and "duplicate" in detail.lower():
            return Rejected("duplicate", detail, status=status)
        if status == 422 and ("length" in detail.lower() or "too long" in detail.lower()):
            return Rejected("too_long", detail, status=status)
        if status == 426:
            hint = f"LinkedIn-Version {version} is not active (set LINKEDIN_VERSION to a recent month)"
            return Rejected("invalid", safe_text(f"{hint}: {detail}"), status=status)
        return None

    return refine
