"""`/relais …` through the core alone (`bot.flows.commands.run_command`): a text surface written in the
test, no chat platform imported; the answer is asserted as the neutral message it is, and the database
as it is left."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from ipaddress import ip_network

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.core import Relais
from bot.flows.commands import run_command
from bot.messages import Joined, Mention, Message, Section, Text, lines, plain_text, text
from bot.services.preview import Preview, PreviewFetcher
from models import Member, OutboxMessage, Post, Suggestion, Workspace
from tests.bot.flows.conftest import ARTICLE, START, Directory, TextSurface, count, who
from tests.conftest import connections_in_use

Sessions = async_sessionmaker[AsyncSession]


async def test_an_admin_queues_a_link_into_a_named_channel(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    reply = await run_command(core, surface, directory, who("UBOSS"), f"queue {ARTICLE} Read this #news")
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
    assert post.channels == ["CNEWS"]
    assert post.captions == ["Read this"]
    assert reply == Message(
        lines(
            Text(
                "en", "queued_now", {"id": post.id, "channels": Joined((Mention("channel", "CNEWS"),), ", ")}
            ),
            text("en", "preview_missing"),
        )
    )


async def test_a_later_post_is_announced_in_the_admins_time_zone(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    await run_command(core, surface, directory, who("UBOSS"), "channel #general")
    reply = await run_command(core, surface, directory, who("UBOSS"), f"queue {ARTICLE} at tomorrow 9:00")
    assert reply is not None
    assert plain_text(reply.summary).startswith("Post #1 will be published in #CGENERAL on 2026-11-26 09:00.")
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
    assert post.channels == ["CGENERAL"]  # the default channel
    assert post.publish_at == START + timedelta(hours=23)  # 09:00 in Paris is 08:00 UTC


async def test_queue_alone_opens_the_form_with_the_default_channel(
    core: Relais, surface: TextSurface, directory: Directory
) -> None:
    await run_command(core, surface, directory, who("UBOSS"), "channel #news")
    assert await run_command(core, surface, directory, who("UBOSS"), "queue") is None
    assert surface.forms == [(("CNEWS",), "en")]


async def test_the_admin_gate_refuses_members_and_changes_nothing(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    reply = await run_command(core, surface, directory, who("UANNE"), f"queue {ARTICLE} #news")
    assert reply == Message(text("fr", "not_admin", command="queue"))
    assert await count(sessions, Post) == 0
    owner = await run_command(core, surface, directory, who("UOWNER"), "channel #news")
    assert owner == Message(text("en", "channel_set", channel=Mention("channel", "CNEWS")))


async def test_refusals_echo_what_was_typed_and_change_nothing(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    unknown = await run_command(core, surface, directory, who("UBOSS"), "channel #nowhere")
    assert unknown == Message(text("en", "unknown_channel", channel="#nowhere"))
    cancel = await run_command(core, surface, directory, who("UANNE"), "pause forever")
    assert cancel == Message(text("fr", "bad_weeks"))
    long = "x" * 300
    typo = await run_command(core, surface, directory, who("UBOSS"), f"cancel {long}")
    assert typo == Message(text("en", "not_a_post_id", text="x" * 99 + "…", command="cancel"))
    async with sessions() as session:
        workspace = (await session.scalars(select(Workspace))).one()
        anne = (await session.scalars(select(Member).where(Member.external_id == "UANNE"))).one()
    assert workspace.default_channel is None
    assert anne.paused_until is None


async def test_an_unknown_command_gets_the_help_led_by_why(
    core: Relais, surface: TextSurface, directory: Directory
) -> None:
    reply = await run_command(core, surface, directory, who("UANNE"), "<!channel> now")
    lead = text("fr", "unknown_command", command="<!channel>")
    parts = (lead, text("fr", "help_title"), text("fr", "help_employee"))
    assert reply == Message(lines(*parts), tuple(Section(part) for part in parts))


async def test_pause_resume_and_language_are_saved(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    paused = await run_command(core, surface, directory, who("UANNE"), "pause 2")
    assert paused == Message(text("fr", "paused_until", date="2026-12-09"))
    english = await run_command(core, surface, directory, who("UANNE"), "lang english")
    assert english == Message(text("en", "lang_set"))
    async with sessions() as session:
        anne = (await session.scalars(select(Member).where(Member.external_id == "UANNE"))).one()
    assert anne.paused_until == START + timedelta(weeks=2)
    assert anne.language == "en"
    resumed = await run_command(core, surface, directory, who("UANNE"), "resume")
    assert resumed == Message(text("en", "resumed"))
    async with sessions() as session:
        anne = (await session.scalars(select(Member).where(Member.external_id == "UANNE"))).one()
    assert (anne.paused_until, anne.opted_out) == (None, False)


async def test_a_suggestion_is_saved_then_sent_for_review(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    typo = await run_command(core, surface, directory, who("UANNE"), "suggest ftp://x worth it")
    assert typo is not None
    assert isinstance(typo.summary, Text)
    assert typo.summary.key == "invalid_url"
    assert await count(sessions, Suggestion) == 0
    await run_command(core, surface, directory, who("UBOSS"), "help")  # RELAIS_ADMINS, a member here
    sent = await run_command(core, surface, directory, who("UANNE"), f"suggest {ARTICLE} worth it")
    assert sent == Message(text("fr", "suggest_sent"))
    async with sessions() as session:
        suggestion = (await session.scalars(select(Suggestion))).one()
    assert suggestion.reason == "worth it"
    async with sessions() as session:
        reviews = (await session.scalars(select(OutboxMessage))).all()
    # A review for RELAIS_ADMINS, waiting in the outbox for the platform's notifier.
    assert [(r.kind, r.destination, r.payload["suggestion_id"], r.payload["author"]) for r in reviews] == [
        ("suggestion_review", "UBOSS", suggestion.id, "UANNE")
    ]


async def test_connect_without_the_network_configured_says_so(
    core: Relais, surface: TextSurface, directory: Directory
) -> None:
    reply = await run_command(core, surface, directory, who("UANNE"), "connect linkedin")
    assert reply == Message(text("fr", "network_not_available", network=text("fr", "network_linkedin")))
    unknown = await run_command(core, surface, directory, who("UANNE"), "connect myspace")
    assert unknown == Message(text("fr", "unknown_network", command="connect"))


async def test_no_transaction_is_open_while_a_command_asks_the_platform_or_the_web(
    core: Relais, directory: Directory, sessions: Sessions, engine: AsyncEngine
) -> None:
    """`queue`, `channel` and `schedule` look channels up on the platform, and `queue` fetches the page:
    each before the command's transaction, so no database connection is held while they wait."""
    asked: list[tuple[str, int]] = []

    with connections_in_use(engine) as in_use:

        @dataclass
        class WatchedSurface(TextSurface):
            async def resolve_channel(self, reference: str) -> str:
                asked.append((reference, in_use()))
                return await super().resolve_channel(reference)

        class WatchedFetcher(PreviewFetcher):
            async def fetch(self, url: str) -> Preview:
                asked.append((url, in_use()))
                return await super().fetch(url)

        fetcher = WatchedFetcher(timeout=1.0, allowed_networks=(ip_network("127.0.0.2/32"),))
        watched = replace(core, fetcher=fetcher)
        surface = WatchedSurface()
        try:
            for typed in (
                "channel #general",
                f"queue {ARTICLE} Read this #news",
                "schedule leaderboard fri 16:00 #news",
            ):
                assert await run_command(watched, surface, directory, who("UBOSS"), typed) is not None
        finally:
            await fetcher.aclose()
    assert asked == [("#general", 0), ("#news", 0), (ARTICLE, 0), ("#news", 0)]
    async with sessions() as session:
        workspace = (await session.scalars(select(Workspace))).one()
        post = (await session.scalars(select(Post))).one()
    assert (workspace.default_channel, workspace.timezone) == ("CGENERAL", "Europe/Paris")
    assert post.channels == ["CNEWS"]
