"""Which links Relais will fetch a preview of, and which addresses it may connect to for one (the SSRF rules).

`validate_url` judges the admin's text without resolving DNS; `AddressPolicy` judges every address the
transport actually connects to (`transport.py`), so neither a redirect nor DNS rebinding gets around it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final, TypeAlias
from urllib.parse import urlsplit

import httpx

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH: Final = 2048
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits: judge that address instead.
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_SLACK_LINK: Final = re.compile(r"<([^<>|]*)(?:\|[^<>]*)?>")
# A host name (IDNA-encoded) or an IP address: letters, digits, dots, hyphens, underscores, IPv6 colons.
_HOST: Final = re.compile(rb"[A-Za-z0-9._:-]+")
_MAX_PORT: Final = 65535


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
class AddressPolicy:
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


def host_of(url: str) -> str:
    """What to log of a URL: its host (paths and query strings may carry tokens)."""
    return urlsplit(url).hostname or "?"


def literal_address(url: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(httpx.URL(url).host)
    except (ValueError, httpx.InvalidURL):
        return None
