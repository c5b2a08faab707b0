"""`GET /me`: the signed-in member's own page: their sharing (shares, the clicks their links brought,
points and rank, the same figures as the `me` command), their points per week over the last
`POINTS_WEEKS` weeks (UTC weeks from Monday, as the dashboard's: a chart with its numbers beside it,
earned by the leaderboard's rules, `bot.services.scores`), their connections with a Disconnect button
each (`POST /me/disconnect`, CSRF-checked), and signing out.

Without a session the browser is sent to sign in first, and comes back here.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Final

import pygal  # type: ignore[import-untyped]
from aiohttp import web

from bot import mydata_page
from bot.flows import connections as connection_flow
from bot.i18n import t
from bot.services import analytics, connections, scores
from bot.services import members as member_service
from bot.services.web_sessions import SignedIn
from bot.signin_pages import CORE_KEY, csrf_ok, csrf_refused, login_path, posted_form, signed_in
from bot.web_pages import (
    CHART_HEADERS,
    chart_config,
    chart_image,
    chart_with_table,
    escape,
    html_table,
    layout,
    link,
    paragraph,
    post_button,
    whole_numbers,
)
from models import Network, Workspace

POINTS_WEEKS: Final = 12


def install(app: web.Application) -> None:
    """Needs `bot.signin_pages.install` first (the core and the session)."""
    app.router.add_get("/me", handle_me)
    app.router.add_post("/me/disconnect", handle_disconnect)
    mydata_page.install(app)


def _to_sign_in() -> web.Response:
    return web.Response(status=303, headers={"Location": login_path("/me"), "Cache-Control": "no-store"})


async def handle_me(request: web.Request) -> web.Response:
    who = await signed_in(request)
    if who is None:
        return _to_sign_in()
    return await _page(request, who)


async def handle_disconnect(request: web.Request) -> web.Response:
    """Forget one of the member's connections (`network` in the form), then show the page again."""
    who = await signed_in(request)
    if who is None:
        return _to_sign_in()
    form = await posted_form(request)
    if not csrf_ok(form.get("csrf_token"), who):
        return csrf_refused(who)
    lang = member_service.language_of(who.member)
    try:
        network = Network(form.get("network", ""))
    except ValueError:
        return layout(lang, t(lang, "me_title"), paragraph(t(lang, "me_unknown_network")), status=400)
    await connection_flow.disconnect(request.app[CORE_KEY], who.member, network, lang)
    name = t(lang, f"network_{network.value}")
    return await _page(request, who, notice=t(lang, "me_disconnected", network=name))


async def _page(request: web.Request, who: SignedIn, *, notice: str | None = None) -> web.Response:
    core = request.app[CORE_KEY]
    member = who.member
    async with core.sessions() as session:
        workspace = await session.get_one(Workspace, who.workspace_id)
        accounts = await connections.connected_networks(session, member_id=member.id)
        mine = await scores.member_stats(
            session, workspace_id=who.workspace_id, member_id=member.id, now=core.clock.now()
        )
        period = analytics.Scope(who.workspace_id, POINTS_WEEKS, core.clock.now())
        earned = await scores.member_points(
            session, workspace_id=who.workspace_id, member_id=member.id, since=period.since
        )
        await session.commit()  # the points snapshot `member_stats` built or moved on, if it did
    lang = member_service.language_of(member)
    zone = member_service.zone_of(member_service.timezone_of(member, workspace))
    name = member.display_name or member.external_id
    body = paragraph(notice) if notice else ""
    body += paragraph(t(lang, "me_signed_in_as", name=name))

    rank = (
        t(lang, "me_rank_value", rank=mine.rank, participants=mine.participants)
        if mine.rank is not None
        else t(lang, "me_no_rank")
    )
    figures = (
        ("me_shares_week", str(mine.shares_week)),
        ("me_shares_total", str(mine.shares_total)),
        ("me_clicks", str(mine.clicks)),
        ("me_points", str(mine.points)),
        ("me_rank_label", rank),
    )
    body += f"<h2>{escape(t(lang, 'me_sharing'))}</h2><table><tbody>"
    body += "".join(
        f"<tr><th>{escape(t(lang, key))}</th><td>{escape(value)}</td></tr>" for key, value in figures
    )
    body += "</tbody></table>"
    body += _points_per_week(lang, period.week_starts, earned)

    body += f"<h2>{escape(t(lang, 'me_connections'))}</h2>"
    if accounts:
        rows = ""
        for network, account in sorted(accounts.items(), key=lambda item: item[0].value):
            network_name = t(lang, f"network_{network.value}")
            button = post_button(
                "/me/disconnect",
                who.csrf_token,
                t(lang, "me_disconnect_button", network=network_name),
                fields={"network": network.value},
            )
            since = account.created_at.astimezone(zone).date().isoformat()
            rows += f"<tr><td>{escape(network_name)}</td><td>{escape(since)}</td><td>{button}</td></tr>"
        body += (
            f"<table><thead><tr><th>{escape(t(lang, 'me_network'))}</th>"
            f"<th>{escape(t(lang, 'me_connected_since'))}</th><th></th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    else:
        body += paragraph(t(lang, "me_no_connection"))
    body += f"<h2>{escape(t(lang, 'me_your_data'))}</h2>"
    body += link(mydata_page.PATH, t(lang, "mydata_download"))
    body += post_button("/logout", who.csrf_token, t(lang, "signout_button"))
    response = layout(lang, t(lang, "me_title"), body, width="60em")
    response.headers.update(CHART_HEADERS)
    return response


def _points_per_week(lang: str, weeks: list[date], earned: list[tuple[datetime, int]]) -> str:
    """The points per week as a chart with the table of its numbers beside it."""
    per_week: Counter[date] = Counter()
    for at, value in earned:
        per_week[analytics.week_of(at)] += value
    points = [per_week[week] for week in weeks]
    chart = pygal.Bar(**chart_config(show_legend=False, height=300))
    chart.x_labels = [week.isoformat() for week in weeks]
    whole_numbers(chart, max(points, default=0))
    chart.add(t(lang, "me_week_points"), points)
    table = html_table(
        [t(lang, "me_week"), t(lang, "me_week_points")],
        [[escape(week.isoformat()), str(value)] for week, value in zip(weeks, points, strict=True)],
    )
    return (
        f"<h2>{escape(t(lang, 'me_points_per_week'))}</h2>"
        + paragraph(t(lang, "me_points_per_week_explained", weeks=len(weeks), points=sum(points)))
        + chart_with_table(chart_image(chart, t(lang, "me_points_per_week")), table)
    )
