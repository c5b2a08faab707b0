"""`GET /oauth/<network>/start` and `/callback`: the browser side of connecting LinkedIn or X.

The start link comes from chat (personal, single-use, 10 minutes). It works only in a browser signed in
as the member it was made for (a browser signed in as nobody signs in first, `/login?next=<the link>`,
and comes back; anyone else gets a refusal): a forwarded link cannot put someone else's account on the
sender's record. It redirects to the provider with a `state` that is also set in a cookie scoped to the
callback, and the callback is accepted only with that cookie, in a browser signed in as the same
member. The callback answers with a small page in the member's language; a page asking for a new link
names the command as the member's chat platform calls Relais (`commands`: each configured platform's
`command`, by name).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping

from aiohttp import web

from bot import signin_pages
from bot.core import Relais
from bot.i18n import NEUTRAL_COMMAND, t, template
from bot.services import connections
from bot.services.connections import ConnectFailure
from models import Network

logger = logging.getLogger(__name__)

COOKIE_PREFIX = "relais_oauth_"
COOKIE_MAX_AGE = int(connections.CALLBACK_TTL.total_seconds())


def _network(request: web.Request) -> Network | None:
    try:
        return Network(request.match_info["network"])
    except ValueError:
        return None


def page(lang: str, title: str, message: str, *, status: int = 200) -> web.Response:
    body = f"""<!doctype html><html lang="{lang}"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Relais — {html.escape(title)}</title>
<body style="font-family:sans-serif;max-width:32em;margin:4em auto;padding:0 1em">
<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"""
    return web.Response(
        status=status,
        text=body,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def failure_page(
    failure: ConnectFailure, network: Network | str, commands: Mapping[str, str] | None = None
) -> web.Response:
    name = t(failure.lang, f"network_{network}") if network in ("linkedin", "x") else str(network)
    command = _command(failure.platform, commands or {})
    # `word`: the network as the command takes it (`connect linkedin`), `network` as people name it.
    message = template(failure.lang, f"oauth_{failure.code}", command=command).format(
        network=name, word=str(network)
    )
    # A provider's error is no server error of Relais's (no request gets a 5xx): the page says what
    # happened, with the 400 of every refusal; `other_member` is a 403.
    status = 403 if failure.code == "other_member" else 400
    return page(failure.lang, t(failure.lang, "oauth_failed_title"), message, status=status)


def _command(platform: str | None, commands: Mapping[str, str]) -> str:
    """How the member calls Relais: their platform's way; for a link that names no member, the way of
    the one platform this Relais serves, or, serving several, the command's words alone."""
    if platform is not None and platform in commands:
        return commands[platform]
    ways = set(commands.values())
    return ways.pop() if len(ways) == 1 else NEUTRAL_COMMAND


async def handle_start(
    deps: Relais, request: web.Request, commands: Mapping[str, str] | None = None
) -> web.Response:
    network = _network(request)
    if network is None:
        raise web.HTTPNotFound()
    if deps.cipher is None:
        return failure_page(ConnectFailure("not_configured"), network)
    who = await signin_pages.signed_in(request)
    async with deps.sessions() as session:
        try:
            started = await connections.start(
                session,
                cipher=deps.cipher,
                client=deps.social.get(network),
                base_url=deps.settings.base_url,
                network=network,
                token=request.query.get("t", ""),
                signed_in=who.member if who is not None else None,
                now=deps.clock.now(),
            )
        except connections.SignInFirst:
            # Back to this very link once signed in (it is still unused).
            return web.Response(
                status=303,
                headers={"Location": signin_pages.login_path(request.path_qs), "Cache-Control": "no-store"},
            )
        except ConnectFailure as failure:
            return failure_page(failure, network, commands)
        await session.commit()
    response = web.Response(
        status=302, headers={"Location": started.redirect_to, "Cache-Control": "no-store"}
    )
    response.set_cookie(
        COOKIE_PREFIX + network.value,
        started.state,
        max_age=COOKIE_MAX_AGE,
        path=f"/oauth/{network.value}/",
        httponly=True,
        secure=deps.settings.base_url.startswith("https://"),
        samesite="Lax",  # sent on the provider's top-level redirect back to us, not on cross-site posts
    )
    return response


async def handle_callback(
    deps: Relais, request: web.Request, commands: Mapping[str, str] | None = None
) -> tuple[web.Response, int | None]:
    """The page, and the workspace of the member whose account was connected (a confirmation then waits
    in its outbox); None when none was."""
    network = _network(request)
    if network is None:
        raise web.HTTPNotFound()
    if deps.cipher is None:
        return failure_page(ConnectFailure("not_configured"), network), None
    who = await signin_pages.signed_in(request)
    try:
        connected = await connections.finish(
            deps.sessions,
            cipher=deps.cipher,
            client=deps.social.get(network),
            base_url=deps.settings.base_url,
            network=network,
            query=dict(request.query),
            browser_state=request.cookies.get(COOKIE_PREFIX + network.value),
            signed_in_member_id=who.member.id if who is not None else None,
            now=deps.clock.now(),
        )
    except ConnectFailure as failure:
        response, connected_in = failure_page(failure, network, commands), None
    else:
        connected_in = connected.workspace_id
        lang = connected.lang
        name = t(lang, f"network_{network.value}")
        response = page(lang, t(lang, "oauth_connected_title"), t(lang, "oauth_connected", network=name))
    response.del_cookie(COOKIE_PREFIX + network.value, path=f"/oauth/{network.value}/")
    return response, connected_in
