"""`GET /me/data`: the signed-in member's data file, the same JSON `/relais mydata` sends
(`bot.flows.mydata`), as a download. It is the way on Teams (a bot cannot simply attach a file in a 1:1
chat) and a second way on Slack.

Whose data it is comes from the session alone (`bot.signin_pages.signed_in`: the browser signed in as
that person): the URL names nobody, so no id typed or changed in it reaches another member's data.
Without a session the browser is sent to sign in first, and comes back here. The answer is never kept
by a cache (`Cache-Control: no-store`).
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from bot.flows import mydata as mydata_flow
from bot.services import mydata
from bot.signin_pages import CORE_KEY, login_path, signed_in

PATH: Final = mydata_flow.DOWNLOAD_PATH


def install(app: web.Application) -> None:
    """Needs `bot.signin_pages.install` first (the core and the session)."""
    app.router.add_get(PATH, handle_data)


def _to_sign_in() -> web.Response:
    return web.Response(status=303, headers={"Location": login_path(PATH), "Cache-Control": "no-store"})


async def handle_data(request: web.Request) -> web.Response:
    who = await signed_in(request)
    if who is None:
        return _to_sign_in()
    core = request.app[CORE_KEY]
    found = await mydata_flow.document(core, workspace_id=who.workspace_id, member_id=who.member.id)
    if found is None:  # the member's row went between the session's look-up and this read
        return _to_sign_in()
    return web.Response(
        body=mydata_flow.encoded(found),
        content_type="application/json",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{mydata.file_name(core.clock.now())}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
