"""The commands `test_commands` does not type, through `/api/messages`: `list`, `stats`, `schedule` (shown
and changed), `pause`, `resume`, `optout` and `disconnect`, each by an admin and by a member (who is
refused the admins' commands as on Slack, nothing changed); what an admin's random text may change;
admins named by their Microsoft Entra object id in RELAIS_ADMINS; clicks Relais cannot act on, answered
in the person's language; schedules naming their days in it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.demo.fake_teams import REPLY, SEND
from models import Member, SocialAccount, Suggestion, SuggestionState, Workspace
from tests.fakes.bot_framework import FakeBotFramework
from tests.fakes.social import FakeLinkedIn
from tests.handlers.teams.driver import TENANT, SettingsFactory, activity
from tests.handlers.teams.team import (
    ANN,
    ANN_CHAT,
    ARTICLE,
    BOB,
    CHANNEL,
    Team,
    card_text,
    installed_team,
)
from tests.handlers.teams.test_cards import connect_linkedin

Sessions = async_sessionmaker[AsyncSession]
MESSAGE = "application/vnd.microsoft.activity.message"
ERROR = "application/vnd.microsoft.error"
REFUSED = "Only Relais admins can use {command}. Ask a workspace admin if you need it."
# Cara: a person of the tenant named in RELAIS_ADMINS by her Entra object id, pasted in upper case.
CARA_OID = "ca5e0000-0000-4000-8000-00000000ca2a"
CARA = {"id": "29:cara", "name": "Cara Diaz", "aadObjectId": CARA_OID}
CARA_CHAT = "a:cara-personal"


@pytest.fixture
async def team(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    linkedin: FakeLinkedIn,
) -> AsyncIterator[Team]:
    settings = teams_settings(
        encryption_key=Fernet.generate_key().decode(),
        linkedin_client_id=linkedin.client_id,
        linkedin_client_secret=linkedin.client_secret,
        linkedin_auth_url=linkedin.auth_url,
        linkedin_api_url=linkedin.api_url,
        relais_admins=CARA_OID.upper(),
    )
    async with installed_team(settings, engine, sessions, bot_framework) as installed:
        installed.connector.add_member(CARA["id"], aad_object_id=CARA_OID, name=CARA["name"])
        installed.connector.add_conversation(CARA_CHAT, conversation_type="personal", members=[CARA["id"]])
        yield installed


def french(body: dict[str, Any]) -> dict[str, Any]:
    """The same activity from a Teams client in French."""
    body.update(
        locale="fr-FR", entities=[{"type": "clientInfo", "locale": "fr-FR", "timezone": "Europe/Paris"}]
    )
    return body


def from_cara(team: Team, text: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "from": CARA,
        "conversation": {"id": CARA_CHAT, "conversationType": "personal", "tenantId": TENANT},
        "entities": [{"type": "clientInfo", "locale": "en-US", "timezone": "Europe/Paris"}],
    }
    return activity(team.connector.service_url, text=text, **fields)


async def shown(team: Team, body: dict[str, Any]) -> str:
    """What the person sees: the one card Relais answered with."""
    (reply,) = await team.say(body)
    return card_text(reply)


async def workspace(team: Team) -> Workspace:
    async with team.sessions() as session:
        return (await session.scalars(select(Workspace))).one()


async def count(team: Team, model: Any) -> int:
    async with team.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def preferences(member: Member) -> tuple[object, ...]:
    return (member.language, member.paused_until, member.opted_out)


# -- the admins' commands -----------------------------------------------------------------------------


async def test_list_shows_an_admin_the_posts_and_refuses_a_member(team: Team) -> None:
    assert "No posts yet. Queue one with queue <url>." in await shown(team, team.personal(ANN, "list"))
    await team.published()
    listed = await shown(team, team.personal(ANN, "list"))
    assert "**Posts**" in listed
    assert "#1 published" in listed
    assert "· 0 shares" in listed
    assert "Publications" in await shown(team, french(team.personal(ANN, "list")))
    before = len(team.connector.calls_to(SEND))
    assert await shown(team, team.personal(BOB, "list")) == REFUSED.format(command="list")
    refused = await shown(team, french(team.personal(BOB, "list")))
    assert refused.startswith("Seuls les admins Relais peuvent utiliser list.")
    assert len(team.connector.calls_to(SEND)) == before  # no post listed anywhere for Bob


async def test_stats_shows_an_admin_the_figures_and_refuses_a_member(team: Team) -> None:
    card_id, _ = await team.published()
    await team.click(team.invoke(BOB, {"verb": "not_for_me", "data": {"value": "1"}}, card_id=card_id))
    period = await shown(team, team.personal(ANN, "stats"))
    assert "Stats for the last 30 days" in period
    assert "Shares: 0 (LinkedIn 0, X 0) · Clicks: 0 · Not for me: 1" in period
    assert "Nobody has shared yet." in period
    one = await shown(team, team.personal(ANN, "stats 1"))
    assert "Not for me: 1" in one
    assert "There is no post #9" in await shown(team, team.personal(ANN, "stats 9"))
    assert "Statistiques des 30 derniers jours" in await shown(team, french(team.personal(ANN, "stats")))
    assert await shown(team, team.personal(BOB, "stats")) == REFUSED.format(command="stats")
    assert await shown(team, team.in_channel(BOB, "stats 1")) == REFUSED.format(command="stats")


async def test_schedule_is_shown_and_changed_by_an_admin_only(team: Team) -> None:
    shown_en = await shown(team, team.personal(ANN, "schedule"))
    assert "Reminders: tue at 10:00" in shown_en
    assert "Leaderboard: fri at 16:00 (UTC) in #Acme" in shown_en
    done = await shown(team, team.personal(ANN, "schedule nudges thursday 9:30"))
    assert done == "Done: reminders on thu at 09:30."
    done = await shown(team, team.personal(ANN, "schedule leaderboard ven 17h"))
    assert done == "Done: the leaderboard on fri at 17:00."
    again = await shown(team, team.personal(ANN, "schedule"))
    assert "Reminders: thu at 09:30" in again
    assert "Leaderboard: fri at 17:00 (Europe/Paris)" in again  # Ann's time zone, from her Teams client
    found = await workspace(team)
    assert found.timezone == "Europe/Paris"
    assert found.settings["nudges"] == {"day": 3, "time": "09:30", "lang": "en"}
    assert found.settings["leaderboard"] == {"day": 4, "time": "17:00", "lang": "en"}
    for typed, why in {
        "schedule nudges sat 10:00": "never go out at weekends",
        "schedule nudges someday 10:00": "I don't know that day",
        "schedule coffee tue 10:00": "schedule nudges <day> <HH:MM>",
    }.items():
        assert why in await shown(team, team.personal(ANN, typed)), typed
    for member_typed in ("schedule", "schedule nudges mon 11:00"):
        assert await shown(team, team.personal(BOB, member_typed)) == REFUSED.format(command="schedule")
    assert (await workspace(team)).settings == found.settings


async def test_schedule_names_its_days_in_french_for_a_french_admin(team: Team) -> None:
    said = await shown(team, french(team.personal(ANN, "schedule")))
    assert "Rappels : mardi à 10:00" in said
    assert "Classement : vendredi à 16:00" in said
    done = await shown(team, french(team.personal(ANN, "schedule nudges jeu 9:30")))
    assert done == "C'est fait : les rappels le jeudi à 09:30."
    assert (await workspace(team)).settings["nudges"] == {"day": 3, "time": "09:30", "lang": "fr"}
    assert "Reminders: thu at 09:30" in await shown(team, team.personal(ANN, "schedule"))


# -- everyone's commands ------------------------------------------------------------------------------


@pytest.mark.parametrize("person", [ANN, BOB], ids=["admin", "member"])
async def test_pause_resume_and_optout_are_the_persons_own(team: Team, person: dict[str, str]) -> None:
    other = BOB if person is ANN else ANN
    untouched = preferences(await team.member(other["aadObjectId"]))
    paused = await shown(team, team.personal(person, "pause 2"))
    assert paused == "Reminders paused until 2026-12-09. resume brings them back."
    assert (await team.member(person["aadObjectId"])).paused_until is not None
    assert await shown(team, team.personal(person, "pause 99")) == "Pause for 1 to 52 weeks: pause 2."
    opted = await shown(team, team.personal(person, "optout"))
    assert opted == "You won't get reminders any more. resume if you change your mind."
    assert (await team.member(person["aadObjectId"])).opted_out is True
    assert await shown(team, french(team.personal(person, "resume"))) == "Les rappels sont réactivés."
    member = await team.member(person["aadObjectId"])
    assert (member.opted_out, member.paused_until) == (False, None)
    assert preferences(await team.member(other["aadObjectId"])) == untouched
    assert team.connector.calls_to(SEND) == []  # answers in reply only, nothing in the channel


@pytest.mark.parametrize("person", [ANN, BOB], ids=["admin", "member"])
async def test_disconnect_forgets_the_persons_own_connection(team: Team, person: dict[str, str]) -> None:
    said = await shown(team, team.personal(person, "disconnect linkedin"))
    assert said == "Your LinkedIn account was not connected."
    unknown = await shown(team, team.personal(person, "disconnect myspace"))
    assert unknown == "Which network? disconnect linkedin or disconnect x."
    if person is BOB:
        await connect_linkedin(team)
        assert await count(team, SocialAccount) == 1
        said = await shown(team, team.personal(BOB, "disconnect linkedin"))
        assert said == "Your LinkedIn account is disconnected; its tokens are deleted."
    assert await count(team, SocialAccount) == 0


# -- what an admin's random text may change -----------------------------------------------------------

ADMIN_WORDS = st.sampled_from(
    [
        "queue", "list", "cancel", "stats", "channel", "schedule", "nudges", "leaderboard", "dashboard",
        "pause", "resume", "optout", "lang", "fr", "en", "me", "help", "suggest", "connect", "disconnect",
        "linkedin", "x", "1", "2", "tue", "ven", "10:00", "17h", "#", "#News", "Acme", "<at>", "</at>",
        "<at>Relais</at>", "\n",
    ]
)  # fmt: skip
# Whole commands that change something, so that examples reach them (then random words after them).
ADMIN_COMMANDS = st.sampled_from(
    [
        "", "schedule nudges tue 10:00", "schedule nudges fri 16:30", "schedule leaderboard ven 17h Acme",
        "schedule leaderboard fri 9:00 #News", "pause 2", "resume", "optout", "lang fr", "lang en", "channel",
        "channel Acme", "channel #News", "cancel 1", "queue", "disconnect x",
    ]
)  # fmt: skip
ADMIN_TYPED = st.tuples(ADMIN_COMMANDS, st.lists(ADMIN_WORDS | st.text(max_size=12), max_size=4)).map(
    lambda typed: " ".join([typed[0], *typed[1]])
)


async def test_whatever_an_admin_types_gets_one_answer_and_changes_only_what_an_admin_may(
    team: Team,
) -> None:
    """Random text from Ann (an admin) is answered once, never with a 5xx, and may change only what her
    commands change: her own preferences, the schedules, the default channel to one that exists. It
    queues no post (no readable link is typed), suggests nothing, touches no one else, and nothing is
    sent anywhere but to Ann."""
    loop = asyncio.get_running_loop()
    bob = preferences(await team.member("aad-bob"))
    members = await count(team, Member)

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
        derandomize=True,
    )
    @given(typed=ADMIN_TYPED, in_channel=st.booleans())
    def examples(typed: str, in_channel: bool) -> None:
        body = team.in_channel(ANN, typed) if in_channel else team.personal(ANN, typed)
        replies = asyncio.run_coroutine_threadsafe(team.say(body), loop).result()
        assert len(replies) == 1, typed
        assert replies[0]["attachments"][0]["content"]["body"], typed

    await asyncio.to_thread(examples)
    assert await team.posts() == 0
    assert await count(team, Suggestion) == 0
    assert await count(team, SocialAccount) == 0
    assert await count(team, Member) == members
    assert preferences(await team.member("aad-bob")) == bob
    found = await workspace(team)
    assert found.default_channel == CHANNEL
    assert set(found.settings) <= {"nudges", "leaderboard"}
    assert found.settings.get("leaderboard", {}).get("channel") in (None, CHANNEL)
    assert found.timezone in ("UTC", "Europe/Paris")
    told = {call.conversation_id for call in team.connector.calls if call.operation in (SEND, REPLY)}
    assert told <= {ANN_CHAT, f"{CHANNEL};messageid=1764200009999"}
    assert {call.conversation_id for call in team.connector.calls_to(SEND)} <= {ANN_CHAT}
    assert team.connector.violations == []


# -- RELAIS_ADMINS with Microsoft Entra object ids -----------------------------------------------------


def test_relais_admins_reads_entra_object_ids_in_any_case_and_slack_ids_as_they_are() -> None:
    admins = Settings(_env_file=None, relais_admins=f"U012AB3CD, {CARA_OID.upper()}").relais_admins
    assert admins == {"U012AB3CD", CARA_OID}


async def test_an_entra_object_id_in_relais_admins_makes_that_person_an_admin(team: Team) -> None:
    """RELAIS_ADMINS holds Cara's object id in upper case; Teams sends it in lower case. Once Relais met
    her in the tenant she may run the admins' commands and reviews suggestions; Bob, not listed, may not."""
    assert "No posts yet." in await shown(team, from_cara(team, "list"))
    assert "Reminders: tue at 10:00" in await shown(team, from_cara(team, "schedule"))
    assert "Relais admins" not in await shown(team, from_cara(team, "help"))
    assert "queue <url>" in await shown(team, from_cara(team, "help"))  # the admins' part of the help
    assert (await team.member(CARA_OID)).is_admin is False  # an admin by RELAIS_ADMINS, not by Teams
    assert await shown(team, team.personal(BOB, "list")) == REFUSED.format(command="list")
    await team.say(team.personal(BOB, f"suggest {ARTICLE} Worth it"))
    (review,) = team.connector.activities(CARA_CHAT)[-1:]
    assert "suggests sharing" in card_text(review)  # Cara is among the reviewers


# -- clicks Relais cannot act on ----------------------------------------------------------------------


def _click(verb: str, value: str) -> dict[str, Any]:
    return {"verb": verb, "data": {"action": verb, "value": value}}


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en-US", "I don't know this button (it may come from an older message); nothing was changed."),
        (
            "fr-FR",
            "Je ne connais pas ce bouton (il vient peut-être d'un ancien message) ; rien n'a été modifié.",
        ),
    ],
)
async def test_a_forged_suggestion_id_is_answered_and_decides_nothing(
    team: Team, locale: str, expected: str
) -> None:
    await team.say(team.personal(BOB, f"suggest {ARTICLE} Worth it"))
    review = team.connector.activities(ANN_CHAT)[-1]
    for verb in ("suggestion_approve", "suggestion_reject"):
        body = team.invoke_in_chat(ANN, _click(verb, "1; DROP"), card_id=review["id"])
        body["locale"] = locale
        answer = await team.click(body)
        assert answer == {"statusCode": 200, "type": MESSAGE, "value": expected}, verb
    async with team.sessions() as session:
        (suggestion,) = (await session.scalars(select(Suggestion))).all()
    assert suggestion.state is SuggestionState.PENDING


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en-US", "I don't know this button (it may come from an older message); nothing was changed."),
        (
            "fr-FR",
            "Je ne connais pas ce bouton (il vient peut-être d'un ancien message) ; rien n'a été modifié.",
        ),
    ],
)
async def test_a_click_relais_does_not_know_is_told_in_the_persons_language(
    team: Team, locale: str, expected: str
) -> None:
    card_id, _ = await team.published()
    body = team.invoke(BOB, _click("frobnicate", "1"), card_id=card_id)
    body["locale"] = locale
    answer = await team.click(body)
    assert answer == {
        "statusCode": 400,
        "type": ERROR,
        "value": {"code": "BadRequest", "message": expected},
    }
    # The same from a client without Universal Actions (`Action.Submit`): told in Bob's chat.
    submitted = team.personal(BOB, "", value={"action": "frobnicate", "value": "1"}, locale=locale)
    (reply,) = await team.say(submitted)
    assert card_text(reply) == expected
    assert await count(team, Suggestion) == 0


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en-US", "I only answer people of the organisation where Relais is installed; nothing was changed."),
        (
            "fr-FR",
            "Je ne réponds qu'aux personnes de l'organisation où Relais est installé ; rien n'a été modifié.",
        ),
    ],
)
async def test_a_click_from_outside_the_tenant_is_told_so_and_records_nobody(
    team: Team, locale: str, expected: str
) -> None:
    card_id, _ = await team.published()
    members = await count(team, Member)
    body = team.invoke(BOB, _click("not_for_me", "1"), card_id=card_id)
    body["from"] = {"id": "29:guest", "name": "A Guest"}  # no Entra object id of this tenant
    body["locale"] = locale
    answer = await team.click(body)
    assert answer["type"] == ERROR
    assert answer["value"]["message"] == expected
    # Their `Action.Submit`, known or not, is not answered (nor is a command of theirs).
    for value in ({"action": "not_for_me", "value": "1"}, {"action": "frobnicate"}):
        submitted = team.personal(BOB, "", value=value, locale=locale)
        submitted["from"] = {"id": "29:guest", "name": "A Guest"}
        assert await team.say(submitted) == []
    assert await count(team, Member) == members


async def test_a_plain_answer_to_a_click_shows_no_markdown(team: Team) -> None:
    """A member's Approve (forged: members get no review) is refused with the catalogue's words, whose
    `code` is plain text in a message answer: no backticks."""
    card_id, _ = await team.published()
    answer = await team.click(team.invoke(BOB, _click("suggestion_approve", "1"), card_id=card_id))
    assert answer == {"statusCode": 200, "type": MESSAGE, "value": REFUSED.format(command="queue")}
    french_body = french(team.invoke(BOB, _click("suggestion_approve", "1"), card_id=card_id))
    refused = await team.click(french_body)
    assert refused["value"].startswith("Seuls les admins Relais peuvent utiliser queue.")
