"""Fetching a link's preview (and its image) under the address rules, a time bound and a size bound."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Sequence
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Final, Self
from urllib.parse import urljoin

import httpx

from bot.services.preview.parse import Preview, decode_page, parse_page
from bot.services.preview.transport import GuardedTransport, RefusedAddress
from bot.services.preview.urls import (
    AddressPolicy,
    IPNetwork,
    UnsafeURL,
    host_of,
    literal_address,
    validate_url,
)

logger = logging.getLogger(__name__)

_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
# What LinkedIn takes as a thumbnail.
_IMAGE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/gif"})
IMAGE_MAX_BYTES: Final = 5_000_000


class PreviewFetcher:
    """Fetches previews over one shared HTTP client. Create it once, close it with `aclose`."""

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        max_bytes: int = 512_000,
        max_redirects: int = 3,
        allowed_networks: Sequence[IPNetwork] = (),
        user_agent: str = "RelaisBot/1.0 (+https://github.com/relais)",
    ) -> None:
        """`timeout` bounds the whole fetch, redirects included (and each connect and read within it).
        `allowed_networks` are exceptions to the private-address rule, meant for tests only."""
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._policy = AddressPolicy(tuple(allowed_networks))
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(policy=self._policy),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,  # followed by hand, so that every hop is checked
            trust_env=False,  # an environment proxy would connect for us, past the address check
            # No cookies: nothing should carry over from one admin's link to another's.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            headers={
                "User-Agent": user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
                "Accept-Encoding": "gzip, deflate",
            },
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str) -> Preview:
        """The preview of `url`. Never raises for bad input, network or HTTP problems: the preview then
        has only the URL, and `error` says why."""
        try:
            start = validate_url(url)
        except UnsafeURL as exc:
            logger.info("Not fetching a preview of an invalid link: %s", exc)
            return Preview(url=url.strip(), error=exc.code)
        try:
            async with asyncio.timeout(self._timeout):
                return await self._fetch(start)
        except RefusedAddress as exc:
            logger.warning("Refused to fetch a preview from %s: %s", host_of(start), exc)
            return Preview(url=start, error="private_address")
        except (TimeoutError, httpx.TimeoutException):
            logger.info("Fetching a preview from %s timed out", host_of(start))
            return Preview(url=start, error="timeout")
        except httpx.TransportError as exc:
            logger.info("Could not fetch a preview from %s: %r", host_of(start), exc)
            return Preview(url=start, error="unreachable")
        except Exception:
            logger.exception("Unexpected failure fetching a preview from %s", host_of(start))
            return Preview(url=start, error="unreachable")

    async def _fetch(self, start: str) -> Preview:
        current = start
        redirects = 0
        while True:
            address = literal_address(current)
            if address is not None and not self._policy.allows(address):
                # A fast path only: the network backend checks every address it connects to anyway.
                raise RefusedAddress(f"{address} is not a public address")
            response = await self._client.send(self._client.build_request("GET", current), stream=True)
            try:
                if response.status_code in _REDIRECT_STATUSES:
                    if redirects >= self._max_redirects:
                        return self._failed(
                            start, current, error="too_many_redirects", why=f"over {redirects}"
                        )
                    location = response.headers.get("Location", "").strip()
                    if not location:
                        return self._failed(
                            start, current, error="http_status", why="a redirect with no Location"
                        )
                    try:
                        current = validate_url(urljoin(current, location.replace(" ", "%20")))
                    except UnsafeURL as exc:
                        return self._failed(start, current, error=exc.code, why=f"redirected: {exc}")
                    redirects += 1
                    continue
                if not response.is_success:
                    return self._failed(
                        start, current, error="http_status", why=f"HTTP {response.status_code}"
                    )
                media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if media_type not in _HTML_TYPES:
                    return self._failed(start, current, error="not_html", why=f"content type {media_type!r}")
                body = await self._read(response)
                if body is None:
                    encoding = response.headers.get("Content-Encoding")
                    return self._failed(
                        start, current, error="not_html", why=f"content encoding {encoding!r}"
                    )
            finally:
                await response.aclose()
            text = decode_page(body, header_charset=response.charset_encoding)
            return parse_page(url=start, final_url=current, text=text)

    @staticmethod
    def _failed(url: str, final_url: str, *, error: str, why: str) -> Preview:
        logger.info("No preview for %s (%s): %s", host_of(url), error, why)
        return Preview(url=url, final_url=final_url, error=error)

    async def _read(self, response: httpx.Response) -> bytes | None:
        """At most max_bytes of the decoded body (reading stops there), or None for an unknown encoding.

        Decompression is done here rather than by httpx so that a small compressed body cannot inflate
        into a large one in memory.
        """
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        decompressor = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            decompressor = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected
        elif encoding not in ("", "identity"):
            return None
        body = bytearray()
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if decompressor is None:
                body += chunk
            else:
                try:
                    body += decompressor.decompress(chunk, self._max_bytes - len(body))
                except zlib.error as exc:
                    logger.info("Corrupt compressed body from %s: %s", host_of(str(response.url)), exc)
                    break
            if len(body) >= self._max_bytes or received >= self._max_bytes:
                break
        return bytes(body[: self._max_bytes])

    async def fetch_image(self, url: str) -> tuple[bytes, str] | None:
        """A preview's image as (bytes, content type), for a card's thumbnail: JPEG, PNG or GIF of at most
        IMAGE_MAX_BYTES, fetched under the same address rules and time bound as a page. None (logged) on
        any problem: a card is then shown without its image."""
        try:
            current = validate_url(url)
            async with asyncio.timeout(self._timeout):
                for _ in range(self._max_redirects + 1):
                    address = literal_address(current)
                    if address is not None and not self._policy.allows(address):
                        raise RefusedAddress(f"{address} is not a public address")
                    # Uncompressed only, so that the size bound holds for what is held in memory.
                    headers = {"Accept": "image/*", "Accept-Encoding": "identity"}
                    request = self._client.build_request("GET", current, headers=headers)
                    response = await self._client.send(request, stream=True)
                    try:
                        if response.status_code in _REDIRECT_STATUSES:
                            location = response.headers.get("Location", "").strip()
                            current = validate_url(urljoin(current, location.replace(" ", "%20")))
                            continue
                        media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
                        if encoding not in ("", "identity"):
                            media_type = f"{media_type} ({encoding})"
                        if not response.is_success or media_type not in _IMAGE_TYPES:
                            logger.info(
                                "No image from %s: HTTP %s, %r",
                                host_of(url),
                                response.status_code,
                                media_type,
                            )
                            return None
                        body = bytearray()
                        async for chunk in response.aiter_raw():
                            body += chunk
                            if len(body) > IMAGE_MAX_BYTES:
                                logger.info("No image from %s: over %d bytes", host_of(url), IMAGE_MAX_BYTES)
                                return None
                        return (bytes(body), media_type) if body else None
                    finally:
                        await response.aclose()
        except (UnsafeURL, TimeoutError, httpx.HTTPError) as exc:
            logger.info("No image from %s: %s", host_of(url), type(exc).__name__)
            return None
        logger.info("No image from %s: too many redirects", host_of(url))
        return None
