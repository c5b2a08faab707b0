"""A page's preview from its HTML: Open Graph and Twitter card tags, else its <title>."""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final
from urllib.parse import urljoin

from bot.services.preview.urls import UnsafeURL, host_of, validate_url

logger = logging.getLogger(__name__)

TITLE_LIMIT: Final = 300
DESCRIPTION_LIMIT: Final = 1000
SITE_NAME_LIMIT: Final = 300
_META_CHARSET: Final = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
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


def decode_page(body: bytes, *, header_charset: str | None) -> str:
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


def parse_page(*, url: str, final_url: str, text: str) -> Preview:
    """The preview of the page at `final_url` (reached from `url`) whose HTML is `text`."""
    parser = _PageParser()
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # keep what was parsed before the markup broke the parser
        logger.exception("HTML parser failed on the page at %s", host_of(final_url))
    meta = parser.meta
    title = meta.get("og:title") or meta.get("twitter:title") or "".join(parser.title_parts)
    description = meta.get("og:description") or meta.get("twitter:description") or meta.get("description")
    return Preview(
        url=url,
        final_url=final_url,
        title=_clean(title, limit=TITLE_LIMIT),
        description=_clean(description, limit=DESCRIPTION_LIMIT),
        image_url=_image(meta, page_url=final_url),
        site_name=_clean(meta.get("og:site_name"), limit=SITE_NAME_LIMIT),
    )


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
