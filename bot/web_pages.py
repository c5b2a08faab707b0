"""The look of Relais's own web pages (sign-in, the member's page, the dashboard): one layout, every
text escaped, and charts with their numbers beside them.

Pages are small and few, so they are written with `html.escape` rather than a template engine; every
value put in a page goes through `escape` (or `layout`'s title), and markup is only ever ours.

Charts are SVG drawn on the server by pygal and shown as `data:` images: an image runs no script
(pygal's SVG carries one), so a page with charts keeps the no-script Content-Security-Policy, only
letting `data:` images in (`CHART_HEADERS`). Each chart sits beside the table of its numbers when the
window is wide enough, above it when not (`chart_with_table`: CSS flex with wrap, no script).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Final

import pygal  # type: ignore[import-untyped]
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
# A page with charts: ours with the charts' `data:` images let in.
CHART_HEADERS: Final = {
    **HEADERS,
    "Content-Security-Policy": HEADERS["Content-Security-Policy"] + "; img-src data:",
}
SMALL_COUNTS: Final = 10
TABLE_LOOK: Final = 'style="border-collapse:collapse" border="1" cellpadding="4"'


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


def chart_config(**extra: object) -> dict[str, object]:
    """pygal with no script of its own to fetch (`js=[]`: no CDN), sized for a page."""
    return {
        "js": [],
        "width": 900,
        "height": 360,
        "legend_at_bottom": True,
        "x_label_rotation": 45,
        "print_values": False,
        "show_minor_x_labels": True,
        **extra,
    }


def whole_numbers(chart: pygal.Graph, highest: int) -> None:
    """Whole numbers on the axis when the counts are small (pygal would draw 0.2, 0.4, …)."""
    if highest < SMALL_COUNTS:
        chart.y_labels = list(range(highest + 2))


def chart_image(chart: pygal.Graph, label: str) -> str:
    """The chart as an `<img>` of its SVG (a `data:` address: one request, no script run)."""
    data = base64.b64encode(chart.render()).decode("ascii")
    return f'<img src="data:image/svg+xml;base64,{data}" alt="{escape(label)}" style="width:100%">'


def html_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table: `head` is text (escaped here), `rows` markup the caller built with `escape`. A table
    wider than a narrow window scrolls on its own, not the whole page."""
    heads = "".join(f"<th>{escape(cell)}</th>" for cell in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        f'<div class="table" style="overflow-x:auto"><table {TABLE_LOOK}>'
        f"<thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def chart_with_table(chart: str, table: str) -> str:
    """A chart (`chart_image`) and the table of its numbers, side by side when the window is wide
    enough, the table under the chart on a narrow one (flex with wrap: no script, no media query)."""
    return (
        '<div class="chart-with-table" style="display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start">'
        f'<div style="flex:1 1 28em;min-width:0">{chart}</div>'
        f'<div style="flex:0 1 auto;max-width:100%">{table}</div></div>'
    )
