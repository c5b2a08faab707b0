"""Every Slack listener is registered here, so each command, action and event id is listed in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core import Relais
from handlers.slack.blocks.modals import EDIT_CALLBACK, QUEUE_CALLBACK
from handlers.slack.client import install_fitting_respond
from handlers.slack.deps import CONTEXT_KEY
from handlers.slack.errors import answering, register_error_handlers
from handlers.slack.listeners.actions import handle_not_for_me, handle_open_share, handle_share
from handlers.slack.listeners.commands import handle_relais_command
from handlers.slack.listeners.events import handle_app_home_opened, handle_home_preference
from handlers.slack.listeners.privacy import handle_forget_me_cancel, handle_forget_me_confirm
from handlers.slack.listeners.social import (
    handle_connect,
    handle_disconnect,
    handle_link_button,
    handle_repost,
    handle_undo,
)
from handlers.slack.listeners.suggestions import handle_suggestion_approve, handle_suggestion_reject
from handlers.slack.listeners.views import handle_edit_share, handle_edit_submission, handle_queue_submission


def register(app: AsyncApp, deps: Relais) -> None:
    async def inject(context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> None:
        context[CONTEXT_KEY] = deps
        install_fitting_respond(context)  # every respond() is fitted to Slack's limits
        await next()

    app.middleware(inject)
    register_error_handlers(app)

    app.command("/relais")(answering(handle_relais_command))
    app.action("share_linkedin")(answering(handle_share))
    app.action("share_x")(answering(handle_share))
    app.action("open_share_linkedin")(answering(handle_open_share))
    app.action("open_share_x")(answering(handle_open_share))
    app.action("not_for_me")(answering(handle_not_for_me))
    app.action("connect_linkedin")(answering(handle_connect))
    app.action("connect_x")(answering(handle_connect))
    app.action("disconnect_linkedin")(answering(handle_disconnect))
    app.action("disconnect_x")(answering(handle_disconnect))
    app.action("connect_open")(answering(handle_link_button))
    app.action("view_post")(answering(handle_link_button))
    app.action("mydata_open")(answering(handle_link_button))
    app.action("share_undo")(answering(handle_undo))
    app.action("share_repost")(answering(handle_repost))
    app.action("forget_me_confirm")(answering(handle_forget_me_confirm))
    app.action("forget_me_cancel")(answering(handle_forget_me_cancel))
    for preference in ("home_nudges_off", "home_nudges_on", "home_lang_en", "home_lang_fr"):
        app.action(preference)(answering(handle_home_preference))
    app.event("app_home_opened")(handle_app_home_opened)
    app.action("edit_share")(answering(handle_edit_share))
    app.action("suggestion_approve")(answering(handle_suggestion_approve))
    app.action("suggestion_reject")(answering(handle_suggestion_reject))
    app.view(QUEUE_CALLBACK)(answering(handle_queue_submission))
    app.view(EDIT_CALLBACK)(answering(handle_edit_submission))
