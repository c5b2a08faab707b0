"""Link previews for queued posts: a page's title, description and image, fetched without SSRF.

`urls` says which links and addresses may be fetched, `transport` enforces it where sockets open, `fetch`
follows redirects and bounds time and size, and `parse` reads the page.
"""

from __future__ import annotations

from bot.services.preview.fetch import PreviewFetcher
from bot.services.preview.parse import Preview
from bot.services.preview.urls import UnsafeURL, validate_url

__all__ = ["Preview", "PreviewFetcher", "UnsafeURL", "validate_url"]
