"""Privacy in Slack: the buttons of `/relais forget-me` (erase my data, cancel)."""

from __future__ import annotations

from bot.flows import erasure
from bot.messages import Message
from handlers.slack.notifier import SlackNotifier
from handlers.slack.outbox import clients_for
from handlers.slack.social import Click, answers_click


async def _erase(click: Click) -> Message:
    """The Erase my data button: the member erased is whoever Slack's signed request says clicked; the button
    carries only the answer's language."""
    return await erasure.confirm(
        click.core,
        click.who,
        click.value,
        # Each file deleted with its own workspace's token (a Grid erasure spans the org's workspaces).
        files=SlackNotifier(clients_for(click.core, click.client)),
    )


async def _keep(click: Click) -> Message:
    """Cancel: nothing is erased."""
    return erasure.cancel(click.core, click.who, click.value)


# Each answer replaces the question (its buttons go: a click is answered once), for the clicker only.
handle_forget_me_confirm = answers_click(_erase, in_place=True)
handle_forget_me_cancel = answers_click(_keep, in_place=True)
