"""The look of Relais's own web pages (sign-in, the member's page): one layout, every text escaped.

Pages are small and few, so they are written with `html.escape` rather than a template engine; every
value put in a page goes through `escape` (or `layout`'s title), and markup is only ever ours.
"""

from __future__ import annotations

import html
from typing import Final

from aiohttp import web

from bot.i18n import Language, language_for

escape = html.escape

# No page of ours is cached, sends a referrer (a query may carry a code), runs a script or is framed.
HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}


def browser_language(request: web.Request) -> Language:
    """The language of someone Relais does not know yet: the browser's first supported language."""
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";", 1)[0].strip()
        if tag and tag != "*" and language_for(locale=tag) == tag.split("-", 1)[0].lower():
            return language_for(locale=tag)
    return "en"


def layout(lang: str, title: str, body: str, *, status: int = 200, width: str = "40em") -> web.Response:
    """A page: `title` is escaped here, `body` is markup the caller built with `escape`; `width` the
    widest the text runs (the dashboard's tables need more than a form)."""
    text = f"""<!doctype html><html lang="{escape(lang)}"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Relais — {escape(title)}</title>
<body style="font-family:sans-serif;max-width:{escape(width)};margin:4em auto;padding:0 1em">
<h1>{escape(title)}</h1>
{body}
</body></html>"""
    return web.Response(status=status, text=text, content_type="text/html", headers=HEADERS)


def paragraph(text: str) -> str:
    return f"<p>{escape(text)}</p>"


def link(href: str, text: str) -> str:
    return f'<p><a href="{escape(href)}">{escape(text)}</a></p>'


def post_button(action: str, csrf_token: str, label: str, *, fields: dict[str, str] | None = None) -> str:
    """A form that posts to `action` with the session's CSRF token (`bot.services.web_sessions`) and
    `fields` as hidden inputs."""
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in {**(fields or {}), "csrf_token": csrf_token}.items()
    )
    button = f'<button type="submit">{escape(label)}</button>'
    return f'<form method="post" action="{escape(action)}">{hidden}{button}</form>'
