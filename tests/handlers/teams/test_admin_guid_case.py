"""RELAIS_ADMINS names Cara by her Microsoft Entra object id (kept in lower case); her activities carry
it in upper case. She is an admin for the admins' commands (compared in Python) and, the same, among the
reviewers of suggestions (the SQL reading of RELAIS_ADMINS): GUIDs compare whatever their case."""

from __future__ import annotations

from typing import Any

from tests.handlers.teams.team import ARTICLE, BOB, Team, card_text
from tests.handlers.teams.test_more_commands import CARA, CARA_CHAT, CARA_OID, REFUSED, from_cara, shown
from tests.handlers.teams.test_more_commands import team as team  # Cara named in RELAIS_ADMINS


def _shouting(body: dict[str, Any]) -> dict[str, Any]:
    """The activity with Cara's object id in upper case."""
    body["from"] = {**CARA, "aadObjectId": CARA_OID.upper()}
    return body


async def test_an_admin_whose_object_id_arrives_in_upper_case_reviews_suggestions(team: Team) -> None:
    assert "No posts yet." in await shown(team, _shouting(from_cara(team, "list")))
    assert (await team.member(CARA_OID.upper())).external_id == CARA_OID.upper()  # kept as Teams sent it
    assert await shown(team, team.personal(BOB, "list")) == REFUSED.format(command="list")
    await team.say(team.personal(BOB, f"suggest {ARTICLE} Worth it"))
    reviews = [card_text(sent) for sent in team.connector.activities(CARA_CHAT)]
    assert any("suggests sharing" in text for text in reviews), reviews
