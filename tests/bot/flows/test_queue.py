"""The queue form through the core alone (`bot.flows.queue`): a form as a platform reads it back, checked
field by field (refusals in the admin's language, nothing changed), then queued; no chat platform
imported. What the admin is told is asserted as the neutral message it is, and the database as it is
left."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core import Relais
from bot.flows import acting, queue
from bot.flows.caller import Caller
from bot.flows.commands import run_command
from bot.messages import Joined, Mention, Message, Text, lines, text
from bot.services.hotpath import AckDeadline
from models import OutboxMessage, Post, PostState, Suggestion, SuggestionState
from tests.bot.flows.conftest import ARTICLE, START, Directory, TextSurface, count, who

Sessions = async_sessionmaker[AsyncSession]


async def submitted(core: Relais, caller: Caller, form: queue.QueueForm) -> Message:
    """The form checked, then queued: what the admin is told."""
    checked = queue.check(core, caller, form)
    assert isinstance(checked, queue.Checked), checked
    return await queue.submit(core, caller, checked)


def stamp(moment: datetime) -> int:
    return int(moment.timestamp())


async def test_a_valid_form_queues_and_publishes_the_post(
    core: Relais, directory: Directory, sessions: Sessions
) -> None:
    boss = await acting.caller(core, directory, who("UBOSS"))
    form = queue.QueueForm(
        url=ARTICLE,
        captions=(" First words ", "", "Other words"),
        networks=("x", "linkedin"),
        channels=("CNEWS", "CGENERAL"),
    )
    reply = await submitted(core, boss, form)
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
        pushed = (await session.scalars(select(OutboxMessage.destination))).all()
    assert (post.url, post.captions, post.networks, post.state) == (
        ARTICLE,
        ["First words", "Other words"],
        ["linkedin", "x"],
        PostState.PUBLISHED,
    )
    assert sorted(pushed) == ["CGENERAL", "CNEWS"]
    where = Joined((Mention("channel", "CNEWS"), Mention("channel", "CGENERAL")), ", ")
    assert reply == Message(
        lines(Text("en", "queued_now", {"id": post.id, "channels": where}), text("en", "preview_missing"))
    )


async def test_a_later_post_with_an_expiry_day_is_read_in_the_admins_time_zone(
    core: Relais, directory: Directory, sessions: Sessions
) -> None:
    boss = await acting.caller(core, directory, who("UBOSS"))  # Europe/Paris
    later = START + timedelta(days=1)
    form = queue.QueueForm(
        url=ARTICLE,
        networks=("x",),
        channels=("CNEWS",),
        publish_at=str(stamp(later)),
        expires_on="2026-12-31",
    )
    reply = await submitted(core, boss, form)
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
    assert (post.state, post.publish_at, post.expires_at) == (
        PostState.SCHEDULED,
        later,
        datetime(2026, 12, 31, 23, 0, tzinfo=UTC),  # the end of the 31st in Paris
    )
    assert await count(sessions, OutboxMessage) == 0  # not pushed yet
    assert reply.summary == lines(
        text(
            "en",
            "queued_later",
            id=post.id,
            channels=Joined((Mention("channel", "CNEWS"),), ", "),
            when="2026-11-26 10:00",
        ),
        text("en", "preview_missing"),
    )


async def test_every_wrong_field_is_refused_in_the_admins_language_and_nothing_is_changed(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    await run_command(core, surface, directory, who("UBOSS"), "lang fr")
    boss = await acting.caller(core, directory, who("UBOSS"))
    form = queue.QueueForm(
        url="mailto:boss@example.com",
        captions=("x" * 300, "fine", "nul\x00byte"),
        networks=("x", "myspace"),
        channels=("CNEWS",),
        unknown_channels=("<!channel>" + "y" * 100,),
        publish_at=stamp(START - timedelta(hours=2)),
        expires_on="9999-12-31",
    )
    refused = queue.check(core, boss, form)
    assert isinstance(refused, dict)
    assert set(refused) == {
        "url",
        "networks",
        "caption_1",
        "caption_3",
        "channels",
        "publish_at",
        "expires_on",
    }
    assert all(why.lang == "fr" for why in refused.values())
    assert refused["url"].key == "invalid_url"
    assert refused["networks"] == text("fr", "no_network")
    assert refused["caption_1"].key == "caption_too_long_x"
    assert refused["caption_3"] == text("fr", "text_control_characters")
    assert refused["channels"] == text("fr", "unknown_channel", channel="<!channel>" + "y" * 70)
    assert refused["publish_at"] == text("fr", "publish_at_past")
    assert refused["expires_on"] == text("fr", "expiry_too_far")
    assert await count(sessions, Post) == 0


async def test_a_form_with_no_network_no_channel_or_an_unreadable_moment_is_refused(
    core: Relais, directory: Directory
) -> None:
    boss = await acting.caller(core, directory, who("UBOSS"))
    refused = queue.check(
        core, boss, queue.QueueForm(url=ARTICLE, publish_at="tomorrow", expires_on="31/12/2026")
    )
    assert refused == {
        "networks": text("en", "no_network"),
        "channels": text("en", "no_channel"),
        "publish_at": text("en", "bad_date"),
        "expires_on": text("en", "bad_date"),
    }
    expiring = queue.QueueForm(url=ARTICLE, networks=("x",), channels=("CNEWS",), expires_on="2026-11-20")
    assert queue.check(core, boss, expiring) == {"expires_on": text("en", "expiry_before_publish")}


async def test_only_admins_queue_and_an_untrusted_form_is_out_of_date(
    core: Relais, directory: Directory, sessions: Sessions
) -> None:
    anne = await acting.caller(core, directory, who("UANNE"))
    fine = queue.QueueForm(url=ARTICLE, networks=("x",), channels=("CNEWS",))
    assert queue.check(core, anne, fine) == {"url": text("fr", "not_admin", command="queue")}
    boss = await acting.caller(core, directory, who("UBOSS"))
    forged = queue.QueueForm(url=ARTICLE, networks=("x",), channels=("CNEWS",), trusted=False)
    assert queue.check(core, boss, forged) == {"url": text("en", "form_outdated")}
    assert await count(sessions, Post) == 0


async def test_a_page_on_a_private_address_is_refused_after_the_form_closed(
    core: Relais, directory: Directory, sessions: Sessions
) -> None:
    boss = await acting.caller(core, directory, who("UBOSS"))
    form = queue.QueueForm(url="http://127.0.0.3:9/intranet", networks=("x",), channels=("CNEWS",))
    assert await submitted(core, boss, form) == Message(text("en", "private_url"))
    assert await count(sessions, Post) == 0


async def test_the_form_opened_to_approve_a_suggestion_approves_it_when_queued(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    await acting.caller(core, directory, who("UBOSS"))
    await run_command(core, surface, directory, who("UANNE"), f"suggest {ARTICLE} worth it")
    boss = await acting.caller(core, directory, who("UBOSS"))
    form = queue.QueueForm(url=ARTICLE, networks=("linkedin",), channels=("CNEWS",), suggestion_id=1)
    await submitted(core, boss, form)
    async with sessions() as session:
        suggestion = await session.get_one(Suggestion, 1)
        kinds = (await session.scalars(select(OutboxMessage.kind))).all()
    assert (suggestion.state, suggestion.post_id) == (SuggestionState.APPROVED, 1)
    assert "suggestion_outcome" in kinds  # the employee is told


async def test_a_submitter_not_identified_in_time_gets_a_refusal_in_the_language_last_seen(
    core: Relais, directory: Directory, sessions: Sessions
) -> None:
    await acting.caller(core, directory, who("UANNE"))  # seen once: French
    refused = await acting.form_submitter(core, directory, who("UANNE"), AckDeadline(0), field="caption")
    assert refused == {"caption": text("fr", "something_went_wrong")}
    stranger = await acting.form_submitter(core, directory, who("UNEW"), AckDeadline(0), field="url")
    assert stranger == {"url": text("en", "something_went_wrong")}
    pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    await asyncio.gather(*pending)  # the look-ups go on after the refusal: let them end
    found = await acting.form_submitter(core, directory, who("UANNE"), AckDeadline(), field="caption")
    assert isinstance(found, Caller)
    assert found.member.external_id == "UANNE"


async def test_the_form_offers_the_networks_a_queued_post_offers_labelled_in_the_admin_s_language(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    """What the form offers is the core's (the platform only draws it): every network, each ticked, as
    `/relais queue` offers them."""
    assert queue.form_spec("fr") == queue.FormSpec(
        networks=(
            queue.Choice("linkedin", text("fr", "network_linkedin"), True),
            queue.Choice("x", text("fr", "network_x"), True),
        )
    )
    await run_command(core, surface, directory, who("UBOSS"), f"queue {ARTICLE} #news")
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
    assert tuple(post.networks) == tuple(choice.value for choice in queue.form_spec("en").networks)
