"""`GET /admin`: the admins' dashboard (`bot.services.analytics`), a page per post, and every table as CSV.

Only a signed-in admin of the workspace sees it (the admin right the chat commands use: the platform's
admin flag cached on the member, or RELAIS_ADMINS); anyone else signed in gets a 403 page, and a browser
not signed in is sent to sign in first. Every figure is of the admin's own workspace: another
workspace's post is a 404.

The period, network and channel are a GET form, so the page works without JavaScript. Charts are SVG
drawn on the server by pygal (`bot.web_pages.chart_image`: `data:` images, so the page keeps its
no-script Content-Security-Policy). Each chart has its numbers in the table beside it
(`bot.web_pages.chart_with_table`), and each table a CSV download (formula-safe, as `relais export`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlencode

import pygal  # type: ignore[import-untyped]
from aiohttp import web

from bot.i18n import Language, t
from bot.services import analytics
from bot.services import members as member_service
from bot.services.analytics import ChannelShares, Dashboard, PostPage, Scope, Week
from bot.services.export import write_table
from bot.services.web_sessions import SignedIn
from bot.signin_pages import CORE_KEY, login_path, signed_in
from bot.web_pages import (
    CHART_HEADERS,
    HEADERS,
    chart_config,
    chart_image,
    chart_with_table,
    escape,
    html_table,
    layout,
    paragraph,
    whole_numbers,
)
from models import Network

TABLES: Final = ("weeks", "posts", "advocates")
POST_TABLES: Final = ("weeks", "channels", "sharechannels", "captions")
NO_FIGURE: Final = "—"


def install(app: web.Application) -> None:
    """Needs `bot.signin_pages.install` first (the core and the session)."""
    app.router.add_get("/admin", handle_dashboard)
    app.router.add_get("/admin/{table:[a-z]+}.csv", handle_dashboard_csv)
    app.router.add_get("/admin/posts/{post_id:[0-9]{1,18}}", handle_post)
    app.router.add_get("/admin/posts/{post_id:[0-9]{1,18}}/{table:[a-z]+}.csv", handle_post_csv)


class Refused(Exception):
    """The request cannot be answered with figures; `response` says why."""

    def __init__(self, response: web.Response) -> None:
        self.response = response


async def _admin(request: web.Request) -> tuple[SignedIn, Language]:
    who = await signed_in(request)
    if who is None:
        raise Refused(
            web.Response(
                status=303, headers={"Location": login_path(request.path_qs), "Cache-Control": "no-store"}
            )
        )
    lang = member_service.language_of(who.member)
    core = request.app[CORE_KEY]
    async with core.sessions() as session:
        admin = await member_service.is_admin_in(session, who.member, admins=core.settings.relais_admins)
    if not admin:
        raise Refused(
            layout(lang, t(lang, "admin_refused_title"), paragraph(t(lang, "admin_refused")), status=403)
        )
    return who, lang


def _scope(request: web.Request, who: SignedIn, lang: Language, *, post_id: int | None = None) -> Scope:
    """The period, network and channel the query asks for; a value the form never offers is a 400."""
    query = request.query
    try:
        weeks = int(query.get("period", analytics.DEFAULT_PERIOD))
        network = Network(query["network"]) if query.get("network") else None
    except ValueError:
        weeks = 0
        network = None
    if weeks not in analytics.PERIODS:
        raise Refused(_bad_filter(lang))
    channel = query.get("channel") or None
    if channel is not None and (len(channel) > 255 or not channel.isprintable()):
        raise Refused(_bad_filter(lang))
    now = request.app[CORE_KEY].clock.now()
    return Scope(who.workspace_id, weeks, now, network=network, channel=channel, post_id=post_id)


def _bad_filter(lang: Language) -> web.Response:
    return layout(lang, t(lang, "admin_title"), paragraph(t(lang, "admin_bad_filter")), status=400)


def _query(scope: Scope) -> str:
    values = {"period": str(scope.weeks)}
    if scope.network is not None:
        values["network"] = scope.network.value
    if scope.channel is not None:
        values["channel"] = scope.channel
    return urlencode(values)


async def handle_dashboard(request: web.Request) -> web.Response:
    try:
        who, lang = await _admin(request)
        scope = _scope(request, who, lang)
    except Refused as refused:
        return refused.response
    async with request.app[CORE_KEY].sessions() as session:
        found = await analytics.dashboard(session, scope)
    if scope.channel is not None and scope.channel not in found.channels:
        return _bad_filter(lang)
    return _page(lang, t(lang, "admin_title"), _dashboard_body(lang, found))


async def handle_post(request: web.Request) -> web.Response:
    try:
        who, lang = await _admin(request)
        scope = _scope(request, who, lang, post_id=int(request.match_info["post_id"]))
    except Refused as refused:
        return refused.response
    async with request.app[CORE_KEY].sessions() as session:
        found = await analytics.post_page(session, scope)
    if found is None:
        return layout(lang, t(lang, "admin_title"), paragraph(t(lang, "admin_no_post")), status=404)
    title = t(lang, "admin_post_title", id=found.post.id)
    return _page(lang, title, _post_body(lang, scope, found))


async def handle_dashboard_csv(request: web.Request) -> web.StreamResponse:
    table = request.match_info["table"]
    try:
        who, lang = await _admin(request)
        scope = _scope(request, who, lang)
    except Refused as refused:
        return refused.response
    if table not in TABLES:
        raise web.HTTPNotFound()
    async with request.app[CORE_KEY].sessions() as session:
        split = await analytics.settled(session, scope)
        if table == "weeks":
            header, rows = _weeks_table(await analytics.weekly(session, scope, split))
        elif table == "posts":
            header, rows = _posts_table(await analytics.posts(session, scope, split))
        else:
            header, rows = _advocates_table(await analytics.advocates(session, scope, split, limit=None))
    return _csv(f"relais-{table}-{scope.weeks}w.csv", header, rows)


async def handle_post_csv(request: web.Request) -> web.StreamResponse:
    table = request.match_info["table"]
    try:
        who, lang = await _admin(request)
        scope = _scope(request, who, lang, post_id=int(request.match_info["post_id"]))
    except Refused as refused:
        return refused.response
    if table not in POST_TABLES:
        raise web.HTTPNotFound()
    async with request.app[CORE_KEY].sessions() as session:
        found = await analytics.post_page(session, scope)
    if found is None:
        return layout(lang, t(lang, "admin_title"), paragraph(t(lang, "admin_no_post")), status=404)
    if table == "weeks":
        header, rows = _weeks_table(found.weeks, participation=False)
    elif table == "channels":
        header, rows = ("channel", "pushed_at"), [[channel, at.isoformat()] for channel, at in found.pushed]
    elif table == "sharechannels":
        header, rows = _share_channels_table(found.by_channel)
    else:
        header, rows = ("caption", "shares"), [[caption or "", count] for caption, count in found.captions]
    return _csv(f"relais-post-{found.post.id}-{table}-{scope.weeks}w.csv", header, rows)


# Tables: one header (the CSV's column names) and rows of plain values, shared by the page and the CSV.
Table = tuple[Sequence[str], list[list[object]]]


def _share_channels_table(by_channel: list[ChannelShares]) -> Table:
    """Shares per channel they came from, as CSV: the channel's id (empty: a reminder or a personal
    link), its name, and the shares per network, as `relais export shares`'s `channel` column counts."""
    header = ["channel", "name", *[f"shares_{network.value}" for network in Network], "shares"]
    rows: list[list[object]] = [
        [row.channel or "", row.name, *[row.shares.get(network, 0) for network in Network], row.total]
        for row in by_channel
    ]
    return header, rows


def _networks(scope_network: Network | None) -> list[Network]:
    return [scope_network] if scope_network is not None else list(Network)


def _weeks_table(weeks: list[Week], *, participation: bool = True) -> Table:
    header = ["week"]
    header += [f"shares_{network.value}" for network in Network] + ["shares"]
    header += [f"clicks_{network.value}" for network in Network] + ["clicks"]
    if participation:
        header += ["sharers", "active_members", "participation"]
    rows: list[list[object]] = []
    for week in weeks:
        row: list[object] = [week.start.isoformat()]
        row += [week.shares.get(network, 0) for network in Network] + [sum(week.shares.values())]
        row += [week.clicks.get(network, 0) for network in Network] + [sum(week.clicks.values())]
        if participation:
            rate = week.participation
            row += [week.sharers, week.members, "" if rate is None else round(rate, 4)]
        rows.append(row)
    return header, rows


def _posts_table(found: list[analytics.PostFigures]) -> Table:
    header = (
        "post_id",
        "title",
        "url",
        "reached",
        "share_clicks",
        "shares",
        "clicks",
        "not_for_me",
        "not_for_me_rate",
    )
    rows: list[list[object]] = [
        [
            row.post_id,
            row.title,
            row.url,
            row.reached,
            row.share_clicks,
            row.shares,
            row.clicks,
            row.not_for_me,
            "" if row.not_for_me_rate is None else round(row.not_for_me_rate, 4),
        ]
        for row in found
    ]
    return header, rows


def _advocates_table(found: list[analytics.Advocate]) -> Table:
    header = ("member", "name", "shares", "clicks")
    return header, [[row.external_id, row.name, row.shares, row.clicks] for row in found]


def _csv(filename: str, header: Sequence[str], rows: list[list[object]]) -> web.Response:
    out = io.StringIO()
    write_table(header, rows, out)
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _page(lang: str, title: str, body: str) -> web.Response:
    response = layout(lang, title, body, width="75em")
    response.headers.update(CHART_HEADERS)
    return response


def _percent(lang: str, rate: float | None) -> str:
    return NO_FIGURE if rate is None else t(lang, "admin_percent", value=round(rate * 100))


def _week_chart(lang: str, weeks: list[Week], networks: list[Network], which: str) -> str:
    chart = pygal.StackedBar(**chart_config())
    chart.x_labels = [week.start.isoformat() for week in weeks]
    highest = max((sum(getattr(week, which).values()) for week in weeks), default=0)
    whole_numbers(chart, highest)
    for network in networks:
        counts = [getattr(week, which).get(network, 0) for week in weeks]
        chart.add(t(lang, f"network_{network.value}"), counts)
    return chart_image(chart, t(lang, f"admin_{which}_chart"))


def _participation_chart(lang: str, weeks: list[Week]) -> str:
    chart = pygal.Line(**chart_config(show_legend=False, range=(0, 100)))
    chart.x_labels = [week.start.isoformat() for week in weeks]
    chart.add(
        t(lang, "admin_participation"),
        [None if w.participation is None else round(w.participation * 100, 1) for w in weeks],
    )
    return chart_image(chart, t(lang, "admin_participation_chart"))


def _csv_link(lang: str, href: str) -> str:
    return f'<p><a href="{escape(href)}" download>{escape(t(lang, "admin_csv"))}</a></p>'


def _select(lang: str, label: str, name: str, choices: Sequence[tuple[str, str]], chosen: str) -> str:
    options = "".join(
        f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>{escape(text)}</option>'
        for value, text in choices
    )
    return f'<label>{escape(t(lang, label))} <select name="{name}">{options}</select></label> '


def _form(lang: str, found: Dashboard) -> str:
    """The period, network and channel, as a GET form (no script needed)."""
    scope = found.scope
    periods = [(str(weeks), t(lang, "admin_weeks", weeks=weeks)) for weeks in analytics.PERIODS]
    networks = [("", t(lang, "admin_all_networks"))]
    networks += [(network.value, t(lang, f"network_{network.value}")) for network in Network]
    channels = [("", t(lang, "admin_all_channels"))] + [(channel, channel) for channel in found.channels]
    return (
        '<form method="get" action="/admin">'
        + _select(lang, "admin_period", "period", periods, str(scope.weeks))
        + _select(lang, "admin_network", "network", networks, scope.network.value if scope.network else "")
        + _select(lang, "admin_channel", "channel", channels, scope.channel or "")
        + f'<button type="submit">{escape(t(lang, "admin_show"))}</button></form>'
    )


def _weeks_html(lang: str, weeks: list[Week], networks: list[Network], which: str) -> list[list[str]]:
    rows = []
    for week in weeks:
        counts: dict[Network, int] = getattr(week, which)
        cells = [escape(week.start.isoformat())] + [str(counts.get(network, 0)) for network in networks]
        rows.append([*cells, str(sum(counts.values()))])
    return rows


def _dashboard_body(lang: str, found: Dashboard) -> str:
    scope = found.scope
    query = _query(scope)
    networks = _networks(scope.network)
    network_heads = [t(lang, f"network_{network.value}") for network in networks]
    week_head = [t(lang, "admin_week"), *network_heads, t(lang, "admin_total")]
    body = _form(lang, found)
    body += paragraph(t(lang, "admin_period_from", since=found.weeks[0].start.isoformat(), weeks=scope.weeks))

    body += f"<h2>{escape(t(lang, 'admin_shares_chart'))}</h2>"
    body += chart_with_table(
        _week_chart(lang, found.weeks, networks, "shares"),
        html_table(week_head, _weeks_html(lang, found.weeks, networks, "shares")),
    )
    body += _csv_link(lang, f"/admin/weeks.csv?{query}")

    body += f"<h2>{escape(t(lang, 'admin_clicks_chart'))}</h2>"
    body += chart_with_table(
        _week_chart(lang, found.weeks, networks, "clicks"),
        html_table(week_head, _weeks_html(lang, found.weeks, networks, "clicks")),
    )
    body += _csv_link(lang, f"/admin/weeks.csv?{query}")

    body += f"<h2>{escape(t(lang, 'admin_participation_chart'))}</h2>"
    body += chart_with_table(
        _participation_chart(lang, found.weeks),
        html_table(
            [
                t(lang, "admin_week"),
                t(lang, "admin_sharers"),
                t(lang, "admin_active_members"),
                t(lang, "admin_participation"),
            ],
            [
                [
                    escape(w.start.isoformat()),
                    str(w.sharers),
                    str(w.members),
                    escape(_percent(lang, w.participation)),
                ]
                for w in found.weeks
            ],
        ),
    )
    body += _csv_link(lang, f"/admin/weeks.csv?{query}")

    body += f"<h2>{escape(t(lang, 'admin_posts'))}</h2>"
    body += paragraph(t(lang, "admin_funnel_explained"))
    if found.posts:
        body += html_table(
            [
                t(lang, "admin_post"),
                t(lang, "admin_reached"),
                t(lang, "admin_share_clicks"),
                t(lang, "admin_shares"),
                t(lang, "admin_clicks"),
                t(lang, "admin_not_for_me"),
                t(lang, "admin_not_for_me_rate"),
            ],
            [
                [
                    f'<a href="/admin/posts/{row.post_id}?{escape(query)}">{escape(row.title)}</a>',
                    str(row.reached),
                    str(row.share_clicks),
                    str(row.shares),
                    str(row.clicks),
                    str(row.not_for_me),
                    escape(_percent(lang, row.not_for_me_rate)),
                ]
                for row in found.posts
            ],
        )
    else:
        body += paragraph(t(lang, "admin_nothing"))
    body += _csv_link(lang, f"/admin/posts.csv?{query}")

    body += f"<h2>{escape(t(lang, 'admin_advocates'))}</h2>"
    if found.advocates:
        body += html_table(
            [t(lang, "admin_member"), t(lang, "admin_shares"), t(lang, "admin_clicks")],
            [[escape(row.name), str(row.shares), str(row.clicks)] for row in found.advocates],
        )
    else:
        body += paragraph(t(lang, "admin_nothing"))
    body += _csv_link(lang, f"/admin/advocates.csv?{query}")
    return body


def _post_body(lang: str, scope: Scope, found: PostPage) -> str:
    query = _query(scope)
    base = f"/admin/posts/{found.post.id}"
    figures = found.figures
    body = f'<p><a href="/admin?{escape(query)}">{escape(t(lang, "admin_back"))}</a></p>'
    body += f'<p><a href="{escape(found.post.url)}" rel="noreferrer">{escape(figures.title)}</a></p>'
    body += paragraph(t(lang, "admin_period_from", since=found.weeks[0].start.isoformat(), weeks=scope.weeks))
    body += html_table(
        [
            t(lang, "admin_reached"),
            t(lang, "admin_share_clicks"),
            t(lang, "admin_shares"),
            t(lang, "admin_clicks"),
            t(lang, "admin_not_for_me"),
            t(lang, "admin_not_for_me_rate"),
        ],
        [
            [
                str(figures.reached),
                str(figures.share_clicks),
                str(figures.shares),
                str(figures.clicks),
                str(figures.not_for_me),
                escape(_percent(lang, figures.not_for_me_rate)),
            ]
        ],
    )
    networks = _networks(scope.network)
    by_network = found.shares_by_network
    body += f"<h2>{escape(t(lang, 'admin_shares_by_network'))}</h2>"
    body += html_table(
        [t(lang, "admin_network"), t(lang, "admin_shares")],
        [
            [escape(t(lang, f"network_{network.value}")), str(by_network.get(network, 0))]
            for network in networks
        ],
    )
    body += f"<h2>{escape(t(lang, 'admin_shares_by_channel'))}</h2>"
    if found.by_channel:
        body += html_table(
            [
                t(lang, "admin_channel"),
                *[t(lang, f"network_{n.value}") for n in networks],
                t(lang, "admin_total"),
            ],
            [
                [
                    escape(row.name if row.channel is not None else t(lang, "admin_from_no_channel")),
                    *[str(row.shares.get(network, 0)) for network in networks],
                    str(row.total),
                ]
                for row in found.by_channel
            ],
        )
    else:
        body += paragraph(t(lang, "admin_nothing"))
    body += _csv_link(lang, f"{base}/sharechannels.csv?{query}")
    body += f"<h2>{escape(t(lang, 'admin_clicks_chart'))}</h2>"
    week_head = [
        t(lang, "admin_week"),
        *[t(lang, f"network_{n.value}") for n in networks],
        t(lang, "admin_total"),
    ]
    body += chart_with_table(
        _week_chart(lang, found.weeks, networks, "clicks"),
        html_table(week_head, _weeks_html(lang, found.weeks, networks, "clicks")),
    )
    body += _csv_link(lang, f"{base}/weeks.csv?{query}")

    body += f"<h2>{escape(t(lang, 'admin_pushed'))}</h2>"
    if found.pushed:
        body += html_table(
            [t(lang, "admin_channel"), t(lang, "admin_pushed_at")],
            [[escape(channel), escape(at.isoformat(timespec="minutes"))] for channel, at in found.pushed],
        )
    else:
        body += paragraph(t(lang, "admin_not_pushed"))
    body += _csv_link(lang, f"{base}/channels.csv?{query}")

    body += f"<h2>{escape(t(lang, 'admin_captions'))}</h2>"
    if found.captions:
        body += html_table(
            [t(lang, "admin_caption"), t(lang, "admin_shares")],
            [
                [escape(caption or t(lang, "admin_no_caption")), str(count)]
                for caption, count in found.captions
            ],
        )
    else:
        body += paragraph(t(lang, "admin_nothing"))
    body += _csv_link(lang, f"{base}/captions.csv?{query}")
    return body
