"""Link previews for queued posts: a page's title, description and image, fetched without SSRF."""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import logging
import re
import socket
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Final, Self, TypeAlias
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

logger = logging.getLogger(__name__)

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
# The same shape as httpcore's (private) SOCKET_OPTION, so that our backend's signature matches its base.
SocketOption: TypeAlias = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)

MAX_URL_LENGTH: Final = 2048
TITLE_LIMIT: Final = 300
DESCRIPTION_LIMIT: Final = 1000
SITE_NAME_LIMIT: Final = 300

_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits: judge that address instead.
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_SLACK_LINK: Final = re.compile(r"<([^<>|]*)(?:\|[^<>]*)?>")
# A host name (IDNA-encoded) or an IP address: letters, digits, dots, hyphens, underscores, IPv6 colons.
_HOST: Final = re.compile(rb"[A-Za-z0-9._:-]+")
_MAX_PORT: Final = 65535
_META_CHARSET: Final = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
# What LinkedIn takes as a thumbnail.
_IMAGE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/gif"})
IMAGE_MAX_BYTES: Final = 5_000_000
_IMAGE_KEYS: Final = ("og:image", "og:image:secure_url", "og:image:url", "twitter:image", "twitter:image:src")


@dataclass(frozen=True, kw_only=True)
class Preview:
    """What Relais knows about a link. A failed fetch is still a preview (the URL alone) with `error` set,
    so that queueing a link never depends on the page being reachable."""

    url: str  # the URL the admin gave, normalised
    final_url: str | None = None  # the URL of the last response received, after redirects
    title: str | None = None
    description: str | None = None
    image_url: str | None = None  # absolute http(s)
    site_name: str | None = None
    # None on success, else one of "private_address", "bad_scheme", "invalid_url", "timeout",
    # "too_many_redirects", "http_status", "not_html", "unreachable".
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class UnsafeURL(ValueError):
    """Admin input that Relais will not fetch. `code` is the Preview.error the refusal maps to."""

    def __init__(self, reason: str, *, code: str = "invalid_url") -> None:
        super().__init__(reason)
        self.code = code


def validate_url(raw: str) -> str:
    """Admin input → normalised absolute http(s) URL, without resolving DNS.

    Slack wraps links as `<https://example.com|example.com>` or `<https://example.com>` (escaping `&`, `<`
    and `>` inside), so both are unwrapped. Anything that is not a plain http(s) URL with a host is refused
    with a short English reason fit to show the admin; credentials are refused so that they never end up
    in logs, posts or requests.
    """
    text = raw.strip()
    wrapped = _SLACK_LINK.fullmatch(text)
    if wrapped is not None:
        text = wrapped.group(1).strip().replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    if not text:
        raise UnsafeURL("the link is empty")
    if len(text) > MAX_URL_LENGTH:
        raise UnsafeURL(f"the link is longer than {MAX_URL_LENGTH} characters")
    if any(character.isspace() or not character.isprintable() for character in text):
        raise UnsafeURL("this is not a link (it contains spaces or control characters)")
    try:
        url = httpx.URL(text)
        url.host  # noqa: B018  # decoded on first use: a malformed xn-- name raises idna's ValueError here
    except (httpx.InvalidURL, ValueError) as exc:
        raise UnsafeURL("this is not a valid link") from exc
    if url.scheme not in _DEFAULT_PORTS:
        reason = (
            f"{url.scheme}: links are not allowed" if url.scheme else "the link must start with http(s)://"
        )
        raise UnsafeURL(f"{reason}, only http:// and https://", code="bad_scheme")
    if not url.host:
        raise UnsafeURL("the link has no host name")
    if _HOST.fullmatch(url.raw_host) is None or (url.port is not None and url.port > _MAX_PORT):
        raise UnsafeURL("this is not a valid link")
    parts = urlsplit(text)
    if "@" in parts.netloc:
        raise UnsafeURL("links with a user name or password are not allowed")
    if url.port == _DEFAULT_PORTS[url.scheme]:
        url = url.copy_with(port=None)
    if not parts.path:  # (httpx's URL.path says "/" for an empty path, so ask urlsplit)
        url = url.copy_with(path="/")
    # A `|` would end the address inside Slack's `<url|title>`; percent-encoded it means the same (the
    # host cannot hold one), as `<`, `>` and quotes already are.
    normalised = str(url).replace("|", "%7C")
    if len(normalised) > MAX_URL_LENGTH:
        raise UnsafeURL(f"the link is longer than {MAX_URL_LENGTH} characters")
    return normalised


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64): it is where packets end up."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: IPAddress) -> bool:
    # `is_global` alone is not enough on Python 3.11: it is True for multicast (224/4, ff00::/8) and for
    # the reserved ::/8 block, so those are checked explicitly.
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_private
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_unspecified
    )


@dataclass(frozen=True)
class _AddressPolicy:
    """Which IP addresses Relais may connect to: public ones, plus the exceptions tests need."""

    allowed_networks: tuple[IPNetwork, ...] = ()

    def allows(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allowed_networks):
            return True
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return self.allows(embedded)
        return _is_public(address)

    def allows_text(self, address: str) -> bool:
        try:
            return self.allows(ipaddress.ip_address(address))
        except ValueError:  # not an address we can judge: refuse it
            return False


class _RefusedConnect(httpcore.ConnectError):
    """Raised by the network backend, inside httpcore, when a host resolves to a forbidden address."""


class _RefusedAddress(httpx.ConnectError):
    """_RefusedConnect, seen from httpx."""


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving host names itself and connecting only to vetted addresses.

    The check happens where the socket is opened, on the very addresses it connects to, so neither a
    redirect to a private host nor DNS rebinding between a check and the connection can get around it.
    TLS is unaffected: httpcore takes the SNI/certificate host name from the request's origin, not from
    the host given to connect_tcp.
    """

    def __init__(self, *, policy: _AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface, called with timeout=)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        refused = [address for address in addresses if not self._policy.allows_text(address)]
        if refused:
            # Refuse if any address is forbidden, not just the one we would pick: a host that has a
            # private address at all is not one to fetch from.
            raise _RefusedConnect(f"{host} resolves to a non-public address ({', '.join(refused)})")
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        error: httpcore.ConnectError | None = None
        for address in addresses:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise httpcore.ConnectTimeout(f"connecting to {host} timed out")
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectTimeout:
                raise
            except httpcore.ConnectError as exc:
                error = exc
        raise error if error is not None else httpcore.ConnectError(f"cannot connect to {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise _RefusedConnect("Unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# httpcore's exceptions and httpx's equivalents, most specific first (as httpx's own transport maps them).
_ERRORS: Final[tuple[tuple[type[Exception], type[httpx.TransportError]], ...]] = (
    (_RefusedConnect, _RefusedAddress),
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProxyError, httpx.ProxyError),
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_type, httpx_type in _ERRORS:
            if isinstance(exc, core_type):
                raise httpx_type(str(exc)) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            with _httpx_errors():
                await aclose()


class _GuardedTransport(httpx.AsyncBaseTransport):
    """httpx's AsyncHTTPTransport, minus proxies and options, over _GuardedBackend.

    httpx 0.28's transport has no parameter for httpcore's network backend, so this builds the
    connection pool itself and maps requests, responses and errors the way httpx's transport does.
    """

    def __init__(self, *, policy: _AddressPolicy) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy=policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("an async transport needs an async request body")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            core_response = await self._pool.handle_async_request(core_request)
        if not isinstance(core_response.stream, AsyncIterable):
            raise TypeError("httpcore returned a synchronous body to an async pool")
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(core_response.stream),
            extensions=core_response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _PageParser(HTMLParser):
    """Collects <meta property/name=… content=…> (first one of each key wins) and the first <title>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities in text and attributes come out unescaped
        self.meta: dict[str, str] = {}
        self.title_parts: list[str] = []
        self._in_title = False
        self._title_seen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            values = {name: value for name, value in attrs if value is not None}
            key = (values.get("property") or values.get("name") or "").strip().lower()
            content = values.get("content")
            if key and content is not None:
                self.meta.setdefault(key, content)
        elif tag == "title" and not self._title_seen:
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self._title_seen = True

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)


def _clean(value: str | None, *, limit: int) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        return None
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        return None


def _decode(body: bytes, *, header_charset: str | None) -> str:
    """Bytes → text the way browsers pick an encoding: BOM, then the header, then <meta charset>."""
    if body.startswith(codecs.BOM_UTF8):
        encoding: str | None = "utf-8-sig"
    elif body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = _codec(header_charset)
        if encoding is None:
            declared = _META_CHARSET.search(body[:4096])
            encoding = _codec(declared.group(1).decode("ascii")) if declared else None
    return body.decode(encoding or "utf-8", errors="replace")


def _host(url: str) -> str:
    """What to log of a URL: its host (paths and query strings may carry tokens)."""
    return urlsplit(url).hostname or "?"


def _literal_address(url: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(httpx.URL(url).host)
    except (ValueError, httpx.InvalidURL):
        return None


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
        self._policy = _AddressPolicy(tuple(allowed_networks))
        self._client = httpx.AsyncClient(
            transport=_GuardedTransport(policy=self._policy),
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
        except _RefusedAddress as exc:
            logger.warning("Refused to fetch a preview from %s: %s", _host(start), exc)
            return Preview(url=start, error="private_address")
        except (TimeoutError, httpx.TimeoutException):
            logger.info("Fetching a preview from %s timed out", _host(start))
            return Preview(url=start, error="timeout")
        except httpx.TransportError as exc:
            logger.info("Could not fetch a preview from %s: %r", _host(start), exc)
            return Preview(url=start, error="unreachable")
        except Exception:
            logger.exception("Unexpected failure fetching a preview from %s", _host(start))
            return Preview(url=start, error="unreachable")

    async def _fetch(self, start: str) -> Preview:
        current = start
        redirects = 0
        while True:
            address = _literal_address(current)
            if address is not None and not self._policy.allows(address):
                # A fast path only: the network backend checks every address it connects to anyway.
                raise _RefusedAddress(f"{address} is not a public address")
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
            text = _decode(body, header_charset=response.charset_encoding)
            return self._parse(url=start, final_url=current, text=text)

    @staticmethod
    def _failed(url: str, final_url: str, *, error: str, why: str) -> Preview:
        logger.info("No preview for %s (%s): %s", _host(url), error, why)
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
                    logger.info("Corrupt compressed body from %s: %s", _host(str(response.url)), exc)
                    break
            if len(body) >= self._max_bytes or received >= self._max_bytes:
                break
        return bytes(body[: self._max_bytes])

    def _parse(self, *, url: str, final_url: str, text: str) -> Preview:
        parser = _PageParser()
        try:
            parser.feed(text)
            parser.close()
        except Exception:  # keep what was parsed before the markup broke the parser
            logger.exception("HTML parser failed on the page at %s", _host(final_url))
        meta = parser.meta
        title = meta.get("og:title") or meta.get("twitter:title") or "".join(parser.title_parts)
        description = meta.get("og:description") or meta.get("twitter:description") or meta.get("description")
        return Preview(
            url=url,
            final_url=final_url,
            title=_clean(title, limit=TITLE_LIMIT),
            description=_clean(description, limit=DESCRIPTION_LIMIT),
            image_url=self._image(meta, page_url=final_url),
            site_name=_clean(meta.get("og:site_name"), limit=SITE_NAME_LIMIT),
        )

    @staticmethod
    def _image(meta: dict[str, str], *, page_url: str) -> str | None:
        for key in _IMAGE_KEYS:
            value = meta.get(key, "").strip()
            if not value:
                continue
            try:
                return validate_url(urljoin(page_url, value))
            except UnsafeURL:
                continue
        return None

    async def fetch_image(self, url: str) -> tuple[bytes, str] | None:
        """A preview's image as (bytes, content type), for a card's thumbnail: JPEG, PNG or GIF of at most
        IMAGE_MAX_BYTES, fetched under the same address rules and time bound as a page. None (logged) on
        any problem: a card is then shown without its image."""
        try:
            current = validate_url(url)
            async with asyncio.timeout(self._timeout):
                for _ in range(self._max_redirects + 1):
                    address = _literal_address(current)
                    if address is not None and not self._policy.allows(address):
                        raise _RefusedAddress(f"{address} is not a public address")
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
                                "No image from %s: HTTP %s, %r", _host(url), response.status_code, media_type
                            )
                            return None
                        body = bytearray()
                        async for chunk in response.aiter_raw():
                            body += chunk
                            if len(body) > IMAGE_MAX_BYTES:
                                logger.info("No image from %s: over %d bytes", _host(url), IMAGE_MAX_BYTES)
                                return None
                        return (bytes(body), media_type) if body else None
                    finally:
                        await response.aclose()
        except (UnsafeURL, TimeoutError, httpx.HTTPError) as exc:
            logger.info("No image from %s: %s", _host(url), type(exc).__name__)
            return None
        logger.info("No image from %s: too many redirects", _host(url))
        return None
