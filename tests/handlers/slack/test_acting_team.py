"""The workspace a request acts in is read in one place (`handlers.slack.identity.acting_team`): the
installs middleware checks that one against the installation Bolt authorized, and the listeners act in
that one. A click whose `team` is null names its workspace by the user's `team_id`; its top-level
`team_id` (which Bolt authorizes by when `team` is null) names nothing a listener acts in, so a payload
where they differ is refused instead of acting with one workspace's installation in the other."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from bot.demo.fake_slack import FakeSlack
from handlers.slack.installations import not_installed_message
from models import Dismissal
from tests.handlers.slack.test_cross_workspace import DIRECTIONS, Pair, Sessions, Side, snapshot
from tests.handlers.slack.test_cross_workspace import pair as pair  # the two installed workspaces
from tests.handlers.slack.test_install import settings as settings  # the installs' settings
from tests.workspace_integrity import assert_rows_stay_in_their_workspace


def _not_for_me(fake: FakeSlack, clicker: Side, post: int, *, team_id: str) -> tuple[bytes, str]:
    """A signed-to-be "Not for me" click by `clicker`'s employee on `post`, with `team: null` (as an
    org-wide installation's payloads may carry it), `user.team_id` their own workspace and the top-level
    `team_id` the given one; and the id of its response URL."""
    url = fake.response_url(channel=clicker.channel, user=clicker.employee)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": None,
        "team_id": team_id,
        "user": {"id": clicker.employee, "team_id": clicker.team},
        "api_app_id": "A0001",
        "container": {"type": "message", "message_ts": "1.1", "channel_id": clicker.channel},
        "trigger_id": "1.2.t",
        "channel": {"id": clicker.channel},
        "response_url": url,
        "is_enterprise_install": False,
        "actions": [
            {
                "action_id": "not_for_me",
                "block_id": "b",
                "value": str(post),
                "type": "button",
                "action_ts": "1.1",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode(), url.rsplit("/", 1)[1]


async def _dismissals(sessions: Sessions, post: int) -> int:
    async with sessions() as session:
        return len((await session.scalars(select(Dismissal.id).where(Dismissal.post_id == post))).all())


@pytest.mark.parametrize(("home", "away"), DIRECTIONS)
async def test_a_click_authorized_for_one_workspace_naming_another_as_its_users_is_refused(
    pair: Pair, sessions: Sessions, fake_slack: FakeSlack, home: str, away: str
) -> None:
    """`team: null`, the top-level `team_id` the other workspace's (Bolt authorizes its installation), the
    user's `team_id` their own: the person is told Relais is not installed there, and no row of either
    workspace changes. The same click with both ids their own workspace's is served (a dismissal)."""
    mine, other = pair.sides[home], pair.sides[away]
    slack = pair.driver(other)
    before = {side.team: await snapshot(sessions, side.team) for side in (mine, other)}

    body, url_id = _not_for_me(fake_slack, mine, mine.post, team_id=other.team)
    assert (await slack.post(body, "application/x-www-form-urlencoded")).status_code == 200
    [told] = await slack.responses(url_id)
    assert told["text"] == not_installed_message()
    await pair.web.settle()
    assert {side.team: await snapshot(sessions, side.team) for side in (mine, other)} == before

    body, url_id = _not_for_me(fake_slack, mine, mine.post, team_id=mine.team)
    assert (await slack.post(body, "application/x-www-form-urlencoded")).status_code == 200
    [served] = await slack.responses(url_id)
    assert served["text"] != not_installed_message()
    assert await _dismissals(sessions, mine.post) == 1
    assert await snapshot(sessions, other.team) == before[other.team]
    await assert_rows_stay_in_their_workspace(sessions)
