"""`GET /me`: the signed-in member's own page (their name, their connections, and signing out).

Without a session the browser is sent to sign in first, and comes back here.
"""

from __future__ import annotations

from aiohttp import web

from bot.i18n import t
from bot.services import connections
from bot.services import members as member_service
from bot.signin_pages import CORE_KEY, login_path, signed_in
from bot.web_pages import escape, layout, paragraph, post_button
from models import Workspace


def install(app: web.Application) -> None:
    """Needs `bot.signin_pages.install` first (the core and the session)."""
    app.router.add_get("/me", handle_me)


async def handle_me(request: web.Request) -> web.Response:
    who = await signed_in(request)
    if who is None:
        return web.Response(status=303, headers={"Location": login_path("/me"), "Cache-Control": "no-store"})
    core = request.app[CORE_KEY]
    member = who.member
    async with core.sessions() as session:
        workspace = await session.get_one(Workspace, who.workspace_id)
        accounts = await connections.connected_networks(session, member_id=member.id)
    lang = member_service.language_of(member)
    zone = member_service.zone_of(member_service.timezone_of(member, workspace))
    name = member.display_name or member.external_id
    body = paragraph(t(lang, "me_signed_in_as", name=name))
    body += f"<h2>{escape(t(lang, 'me_connections'))}</h2>"
    if accounts:
        rows = "".join(
            f"<tr><td>{escape(t(lang, f'network_{network.value}'))}</td>"
            f"<td>{escape(account.created_at.astimezone(zone).date().isoformat())}</td></tr>"
            for network, account in sorted(accounts.items(), key=lambda item: item[0].value)
        )
        body += (
            f"<table><thead><tr><th>{escape(t(lang, 'me_network'))}</th>"
            f"<th>{escape(t(lang, 'me_connected_since'))}</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    else:
        body += paragraph(t(lang, "me_no_connection"))
    body += post_button("/logout", who.csrf_token, t(lang, "signout_button"))
    return layout(lang, t(lang, "me_title"), body)
