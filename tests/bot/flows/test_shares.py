"""The share decisions through the core alone (`bot.flows.shares`): no chat platform imported; the
answers are asserted as the neutral messages they are, and the database as it is left."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.core import Relais
from bot.flows import acting, shares
from bot.flows.acting import Who
from bot.messages import Message, Text
from bot.messages.post import share_link
from bot.notifier import RECIPIENT_GONE, Delivered
from bot.services import recipients
from bot.services.hotpath import AckDeadline
from bot.services.links import tracked_url
from bot.services.members import PROFILE_TTL, Profile
from bot.services.shares import ProfileUpdate, Recorded, ShareRecord
from models import (
    Dismissal,
    Member,
    Network,
    OutboxMessage,
    OutboxState,
    Platform,
    Post,
    PostState,
    Share,
    ShareStatus,
    SocialAccount,
    SocialAccountStatus,
    TrackedLink,
)
from tests.bot.flows.conftest import START, Directory, count
from tests.conftest import TEST_DATABASE_URL

Sessions = async_sessionmaker[AsyncSession]
ANNE = Who(Platform.SLACK, "TEAM", "UANNE")  # French, per the directory


class Early:
    """What the flow said before it was done (the platform would ack and show it)."""

    def __init__(self) -> None:
        self.said: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.said.append(message)


@pytest.fixture
async def writing(core: Relais) -> AsyncIterator[Relais]:
    """The core with its share writer running (the personal link's hot path records through it)."""
    core.shares.start()
    yield core
    await core.shares.stop()


async def a_post(
    core: Relais,
    directory: Directory,
    *,
    state: PostState = PostState.PUBLISHED,
    networks: tuple[str, ...] = ("linkedin", "x"),
) -> int:
    caller = await acting.caller(core, directory, Who(Platform.SLACK, "TEAM", "UBOSS"))
    async with core.sessions() as session:
        post = Post(
            workspace_id=caller.workspace.id,
            url="https://example.com/news",
            title="News",
            captions=["First words", "Second words"],
            networks=list(networks),
            channels=["CNEWS"],
            state=state,
            publish_at=START,
            published_at=START,
            created_by_id=caller.member.id,
            created_at=START,
            updated_at=START,
        )
        session.add(post)
        await session.commit()
        return post.id


async def connect(core: Relais, directory: Directory, who: Who, status: SocialAccountStatus) -> None:
    caller = await acting.caller(core, directory, who)
    async with core.sessions() as session:
        session.add(
            SocialAccount(
                workspace_id=caller.workspace.id,
                member_id=caller.member.id,
                network=Network.LINKEDIN,
                external_person_id="urn:li:person:anne",
                access_token_encrypted="ciphertext",
                status=status,
                created_at=START,
                updated_at=START,
            )
        )
        await session.commit()


async def test_a_member_who_did_not_connect_gets_their_personal_link_with_their_caption(
    writing: Relais, directory: Directory, sessions: Sessions
) -> None:
    core = writing  # the tracked link is made by the share writer's batch
    post_id = await a_post(core, directory)
    early = Early()
    started = await shares.start_share(core, ANNE, post_id, Network.LINKEDIN, early)
    answer = await shares.share_answer(core, directory, ANNE, post_id, Network.LINKEDIN, started)
    async with sessions() as session:
        link = (await session.scalars(select(TrackedLink))).one()
        anne = await acting.caller(core, directory, ANNE)
    caption = ["First words", "Second words"][(anne.member.id + post_id) % 2]  # the member's variant
    assert answer == share_link(
        network="linkedin",
        post_id=post_id,
        link=tracked_url(core.settings.base_url, link.code),
        caption=caption,
        lang="fr",
        connectable=False,
    )
    assert early.said == []
    assert await count(sessions, Share) == 0  # counted when the link is opened, not before


@pytest.mark.parametrize("state", [PostState.CANCELLED, PostState.EXPIRED])
async def test_a_withdrawn_or_expired_post_is_no_longer_available_and_nothing_is_recorded(
    core: Relais, directory: Directory, sessions: Sessions, state: PostState
) -> None:
    post_id = await a_post(core, directory, state=state)
    started = await shares.start_share(core, ANNE, post_id, Network.X, Early())
    answer = await shares.share_answer(core, directory, ANNE, post_id, Network.X, started)
    assert answer == Message(Text("fr", "no_longer_available", {}))
    assert await count(sessions, TrackedLink) == 0


@pytest.mark.parametrize(
    ("status", "claimed"), [(SocialAccountStatus.CONNECTED, True), (SocialAccountStatus.DISCONNECTED, False)]
)
async def test_a_connected_member_s_click_claims_the_api_share_before_the_ack(
    core: Relais, directory: Directory, sessions: Sessions, status: SocialAccountStatus, claimed: bool
) -> None:
    """One rule for a click and for Edit & share: a connected account gets an API share, claimed with
    the member's words; any other gets the personal link."""
    posting_core = replace(core, social={Network.LINKEDIN: object()})  # type: ignore[dict-item]
    clicked, edited = await a_post(core, directory), await a_post(core, directory)
    await connect(core, directory, ANNE, status)
    started = await shares.start_share(posting_core, ANNE, clicked, Network.LINKEDIN, Early())
    assert (started.claim is not None) is claimed
    anne = await acting.caller(core, directory, ANNE)
    submitted = await shares.start_edited_share(posting_core, anne, edited, Network.LINKEDIN, "My own words")
    assert submitted.available
    assert (submitted.claim is not None) is claimed
    async with sessions() as session:
        rows = (await session.scalars(select(Share).order_by(Share.post_id))).all()
    variant = ["First words", "Second words"][(anne.member.id + clicked) % 2]
    assert [(row.post_id, row.status, row.caption) for row in rows] == (
        [(clicked, ShareStatus.PENDING, variant), (edited, ShareStatus.PENDING, "My own words")]
        if claimed
        else []
    )


async def test_opening_the_personal_link_counts_the_share_once(
    writing: Relais, directory: Directory, sessions: Sessions
) -> None:
    post_id = await a_post(writing, directory)
    first = await shares.open_share(writing, ANNE, post_id, Network.X, Early())
    assert first is not None
    assert first.counted
    assert await shares.opened_answer(writing, directory, ANNE, first) == Message(
        Text("fr", "share_recorded", {"network": Text("fr", "network_x", {})})
    )
    again = await shares.open_share(writing, ANNE, post_id, Network.X, Early())
    assert again is not None
    assert not again.counted
    assert await shares.opened_answer(writing, directory, ANNE, again) is None  # nothing more to say
    async with sessions() as session:
        [share] = (await session.scalars(select(Share))).all()
    assert (share.status, share.network) == (ShareStatus.INTENT, Network.X)


async def test_first_contacts_opening_at_once_get_their_member_row_and_share_in_one_batch(
    writing: Relais, directory: Directory, sessions: Sessions
) -> None:
    """People this process never met open their personal link together (Anne twice): each member row is
    created with the share, in the writer's batch, once; each share counted once with the member's
    caption variant; each answered once, in the directory's language, and the profile written."""
    post_id = await a_post(writing, directory)
    people = [ANNE, ANNE, *(Who(Platform.SLACK, "TEAM", f"UNEW{n}") for n in range(5))]
    for n in range(5):
        directory.profiles[f"UNEW{n}"] = Profile(
            display_name=None, locale=None, timezone=None, is_admin=False
        )
    opened = await asyncio.gather(
        *(shares.open_share(writing, who, post_id, Network.X, Early()) for who in people)
    )
    assert all(o is not None and o.member is not None for o in opened)
    assert sum(1 for o in opened if o is not None and o.counted) == 6  # Anne's second opening counts nothing
    answers = await asyncio.gather(
        *(shares.opened_answer(writing, directory, who, o) for who, o in zip(people, opened, strict=True))
    )
    said = [(who.member, a.summary) for who, a in zip(people, answers, strict=True) if a is not None]
    assert [key for key, _ in said] == ["UANNE", *(f"UNEW{n}" for n in range(5))]  # each once
    assert all(isinstance(text, Text) and text.key == "share_recorded" for _, text in said)
    assert [text.lang for who, text in said if isinstance(text, Text)] == ["fr", *["en"] * 5]
    async with sessions() as session:
        members = {m.external_id: m for m in await session.scalars(select(Member))}
        rows = (await session.scalars(select(Share))).all()
    assert sorted(members) == sorted({"UBOSS", "UANNE", *(f"UNEW{n}" for n in range(5))})
    owners = [r.member_id for r in rows if r.member_id is not None]  # every one: each share is someone's
    assert sorted(owners) == sorted(members[w.member].id for w in set(people))
    for row, owner in zip(rows, owners, strict=True):
        assert row.caption == ["First words", "Second words"][(owner + post_id) % 2]
    assert (members["UANNE"].locale, members["UANNE"].admin_checked_at) == ("fr-FR", START)
    assert (members["UNEW0"].admin_checked_at, members["UNEW0"].active) == (START, True)


@pytest.mark.skipif(TEST_DATABASE_URL is None, reason="SQLite does not enforce a column's length")
async def test_a_profile_the_database_refuses_does_not_take_the_batch_s_shares_with_it(
    writing: Relais, directory: Directory, sessions: Sessions
) -> None:
    """A share and a directory answer queued in the same instant go out in one batch of the writer; the
    profile (a display name longer than its column) is refused, the share is still recorded."""
    post_id = await a_post(writing, directory)
    opened = await shares.open_share(writing, ANNE, post_id, Network.X, Early())
    assert opened is not None
    assert opened.member is not None
    anne = opened.member
    too_long = Profile(display_name="A" * 300, locale="fr-FR", timezone=None, is_admin=False)
    record = ShareRecord(
        anne.workspace_id, anne.member_id, post_id, Network.LINKEDIN, ShareStatus.INTENT, START
    )
    share, profile = await asyncio.gather(
        writing.shares.recorded(record),
        writing.shares.update_profile(ProfileUpdate(anne.workspace_id, anne.member_id, too_long, START)),
        return_exceptions=True,
    )
    assert isinstance(profile, DBAPIError)
    assert share == Recorded(created=True)
    assert await count(sessions, Share) == 2


async def test_a_directory_answer_older_than_the_row_s_last_check_does_not_overwrite_it(
    writing: Relais, directory: Directory, sessions: Sessions
) -> None:
    """A profile read before a newer one was written (by another path or process) reaches the writer
    late: it is not written over the newer one, so an admin removed in Slack never becomes one again."""
    post_id = await a_post(writing, directory)
    opened = await shares.open_share(writing, ANNE, post_id, Network.X, Early())
    assert opened is not None
    assert opened.member is not None
    anne = opened.member
    later = START + timedelta(minutes=5)
    async with sessions() as session:
        row = await session.get_one(Member, anne.member_id)
        row.is_admin, row.display_name, row.admin_checked_at = False, "Anne (newer)", later
        await session.commit()
    stale = Profile(display_name="Anne (older)", locale="fr-FR", timezone=None, is_admin=True)
    await writing.shares.update_profile(ProfileUpdate(anne.workspace_id, anne.member_id, stale, START))
    async with sessions() as session:
        row = await session.get_one(Member, anne.member_id)
    assert (row.is_admin, row.display_name, row.admin_checked_at) == (False, "Anne (newer)", later)
    fresh = Profile(display_name="Anne (newest)", locale="fr-FR", timezone=None, is_admin=True)
    newest = later + timedelta(minutes=1)
    await writing.shares.update_profile(ProfileUpdate(anne.workspace_id, anne.member_id, fresh, newest))
    async with sessions() as session:
        row = await session.get_one(Member, anne.member_id)
    assert (row.is_admin, row.display_name, row.admin_checked_at) == (True, "Anne (newest)", newest)


async def test_opening_a_link_to_a_network_the_post_was_not_queued_for_counts_nothing(
    writing: Relais, directory: Directory, sessions: Sessions
) -> None:
    post_id = await a_post(writing, directory, networks=("linkedin",))
    opened = await shares.open_share(writing, ANNE, post_id, Network.X, Early())
    assert await shares.opened_answer(writing, directory, ANNE, opened) == Message(
        Text("fr", "no_longer_available", {})
    )
    assert await count(sessions, Share) == 0
    assert await shares.open_share(writing, ANNE, None, Network.X, Early()) is None  # a forged button


async def test_not_for_me_is_noted_once_and_only_for_a_live_post(
    writing: Relais, directory: Directory, sessions: Sessions
) -> None:
    core = writing  # recorded through the share writer's batch
    post_id = await a_post(core, directory)
    for _ in range(2):
        answer = await shares.not_for_me(core, directory, ANNE, post_id, Early())
        assert answer == Message(Text("fr", "not_for_me_noted", {}))
    assert await count(sessions, Dismissal) == 1
    gone = await a_post(core, directory, state=PostState.CANCELLED)
    assert await shares.not_for_me(core, directory, ANNE, gone, Early()) == Message(
        Text("fr", "no_longer_available", {})
    )
    assert await count(sessions, Dismissal) == 1


STRANGER = Who(Platform.SLACK, "TEAM", "USTRANGER")  # a click signed for TEAM naming whom it does not know
LEFT = Profile(display_name="Left", locale="fr-FR", timezone=None, is_admin=False, active=False)


async def clicks(core: Relais, directory: Directory, who: Who, post_id: int) -> list[Message | None]:
    """Share, open the personal link and Not for me, each answered as the platform would after its ack."""
    started = await shares.start_share(core, who, post_id, Network.X, Early())
    opened = await shares.open_share(core, who, post_id, Network.X, Early())
    return [
        await shares.share_answer(core, directory, who, post_id, Network.X, started),
        await shares.opened_answer(core, directory, who, opened),
        await shares.not_for_me(core, directory, who, post_id, Early()),
    ]


@pytest.mark.parametrize("deactivated", [False, True], ids=["unknown", "deactivated"])
async def test_someone_the_directory_does_not_have_as_a_member_shares_nothing(
    writing: Relais, directory: Directory, sessions: Sessions, deactivated: bool
) -> None:
    """Someone the workspace's directory does not know, or knows deactivated, asked after the ack: no
    caption nor link; the share and the "Not for me" recorded before the ack are withdrawn; the answer is
    the one a post of another workspace gets. Asked again within the profile's lifetime, the directory's
    answer kept on their row refuses them without asking it again."""
    post_id = await a_post(writing, directory)
    if deactivated:
        directory.profiles[STRANGER.member] = LEFT
    lang = "fr" if deactivated else "en"
    refused = Message(Text(lang, "no_longer_available", {}))
    assert await clicks(writing, directory, STRANGER, post_id) == [refused] * 3
    asked = len(directory.calls)
    assert await clicks(writing, directory, STRANGER, post_id) == [refused] * 3
    assert len(directory.calls) == asked  # the profile is fresh: the directory is not asked again
    for model in (TrackedLink, Share, Dismissal):
        assert await count(sessions, model) == 0, model
    async with sessions() as session:
        row = (await session.scalars(select(Member).where(Member.external_id == STRANGER.member))).one()
    assert (row.active, row.admin_checked_at) == (False, START)


async def test_a_member_deactivated_since_their_profile_was_read_has_their_clicks_withdrawn(
    writing: Relais, directory: Directory, sessions: Sessions
) -> None:
    """Anne's profile, read once, goes stale; she is deactivated meanwhile: her next clicks are looked up
    after the ack and refused, what they recorded withdrawn; what her clicks recorded before stays."""
    core = writing
    post_id, other = await a_post(core, directory), await a_post(core, directory)
    assert (await clicks(core, directory, ANNE, other))[1] == Message(
        Text("fr", "share_recorded", {"network": Text("fr", "network_x", {})})
    )
    directory.profiles[ANNE.member] = LEFT
    assert isinstance(core.clock, FrozenClock)
    core.clock.advance(PROFILE_TTL + timedelta(seconds=1))
    refused = Message(Text("fr", "no_longer_available", {}))
    assert await clicks(core, directory, ANNE, post_id) == [refused] * 3
    async with sessions() as session:
        for model in (Share, Dismissal, TrackedLink):  # those of her clicks before, on the other post
            assert (await session.scalars(select(model.post_id))).all() == [other], model


async def test_a_member_marked_gone_by_a_failed_message_is_asked_of_the_directory_not_refused(
    writing: Relais, directory: Directory, sessions: Sessions
) -> None:
    """A message to Anne failed as if she were gone (the drain's hook marks her inactive): that is not the
    directory's word, so her next click in a process that has not met her asks the directory, which
    says she is a member: served, her share kept. With the directory down too, she is still served."""
    core = writing
    first, second, third = [await a_post(core, directory) for _ in range(3)]
    await clicks(core, directory, ANNE, first)  # her profile read just now
    async with sessions() as session:
        workspace_id = await session.scalar(
            select(Member.workspace_id).where(Member.external_id == ANNE.member)
        )
        assert workspace_id is not None
        message = OutboxMessage(
            workspace_id=workspace_id,
            kind="nudge",
            destination=ANNE.member,
            payload={},
            state=OutboxState.FAILED,
            next_attempt_at=START,
            created_at=START,
            updated_at=START,
        )
        session.add(message)
        await session.flush()
        hook = recipients.after_send(admins=frozenset())
        await hook(session, message, Delivered(ok=False, error=RECIPIENT_GONE), START)
        await session.commit()
    acting.forget(core, ANNE)  # another web process, or this one restarted
    recorded = Message(Text("fr", "share_recorded", {"network": Text("fr", "network_x", {})}))
    assert (await clicks(core, directory, ANNE, second))[1] == recorded
    async with sessions() as session:  # the directory's answer written back
        assert await session.scalar(select(Member.active).where(Member.external_id == ANNE.member))
    async with sessions() as session:
        await session.execute(update(Member).values(active=False, admin_checked_at=None))
        await session.commit()
    acting.forget(core, ANNE)
    directory.broken = True
    assert (await clicks(core, directory, ANNE, third))[1] == recorded
    async with sessions() as session:
        assert sorted((await session.scalars(select(Share.post_id))).all()) == [first, second, third]


async def test_a_directory_that_cannot_answer_keeps_todays_answers(
    writing: Relais, directory: Directory, sessions: Sessions
) -> None:
    """The directory down (network, 5xx, timeout) when a first contact clicks: nobody is locked out by
    it; the link is given, the share and the "Not for me" are kept."""
    post_id = await a_post(writing, directory)
    directory.broken = True
    share, opened, noted = await clicks(writing, directory, STRANGER, post_id)
    assert share is not None
    assert share.summary != Text("en", "no_longer_available", {})
    assert opened == Message(Text("en", "share_recorded", {"network": Text("en", "network_x", {})}))
    assert noted == Message(Text("en", "not_for_me_noted", {}))
    assert [await count(sessions, model) for model in (TrackedLink, Share, Dismissal)] == [1, 1, 1]


async def test_edit_and_share_starts_from_the_members_caption_and_checks_the_form(
    core: Relais, directory: Directory
) -> None:
    post_id = await a_post(core, directory, networks=("x",))
    anne = await acting.caller(core, directory, ANNE)
    form = await shares.edit_form(core, anne, post_id)
    assert isinstance(form, shares.EditForm)
    assert (form.post_id, form.title, form.networks) == (post_id, "News", ("x",))
    assert form.caption in ("First words", "Second words")
    gone = await a_post(core, directory, state=PostState.EXPIRED)
    assert await shares.edit_form(core, anne, gone) == Message(Text("fr", "no_longer_available", {}))
    assert await shares.edit_form(core, anne, None) == Message(Text("fr", "no_longer_available", {}))

    assert shares.check_edit("fr", caption=" Fine ", network="x", post_id=1) == shares.EditChoice(
        1, Network.X, "Fine"
    )
    # No network came back with the form: the first network Relais offers.
    assert shares.check_edit("fr", caption="Fine", network=None, post_id=1) == shares.EditChoice(
        1, Network.LINKEDIN, "Fine"
    )
    assert shares.check_edit("fr", caption="Fine", network="myspace", post_id=1) == {
        "network": Text("fr", "no_network", {})
    }
    too_long = shares.check_edit("en", caption="é" * 300, network="x", post_id=1)
    assert isinstance(too_long, dict)
    assert too_long["caption"].key == "caption_too_long_x"
    assert shares.check_edit("en", caption="Fine", network="x", post_id=None) == {
        "caption": Text("en", "form_outdated", {})
    }


async def test_an_edited_share_without_connection_gets_the_personal_link_with_the_typed_words(
    core: Relais, directory: Directory, sessions: Sessions
) -> None:
    post_id = await a_post(core, directory, networks=("linkedin",))
    anne = await acting.caller(core, directory, ANNE)
    started = await shares.start_edited_share(core, anne, post_id, Network.LINKEDIN, "Typed by me")
    answer = await shares.edited_share_answer(core, anne, post_id, Network.LINKEDIN, "Typed by me", started)
    async with sessions() as session:
        link = (await session.scalars(select(TrackedLink))).one()
    assert answer == share_link(
        network="linkedin",
        post_id=post_id,
        link=tracked_url(core.settings.base_url, link.code),
        caption="Typed by me",
        lang="fr",
    )
    elsewhere = await shares.start_edited_share(core, anne, post_id, Network.X, "Typed by me")
    assert not elsewhere.available
    assert await shares.edited_share_answer(core, anne, post_id, Network.X, "", elsewhere) == Message(
        Text("fr", "no_longer_available", {})
    )


async def test_an_edited_share_slower_than_the_platform_waits_says_still_working_first(
    core: Relais, directory: Directory
) -> None:
    post_id = await a_post(core, directory, networks=("x",))
    anne = await acting.caller(core, directory, ANNE)
    choice = shares.check_edit("fr", caption=" Mine ", network="x", post_id=post_id)
    assert isinstance(choice, shares.EditChoice)
    on_time = Early()
    started = await shares.submit_edit(core, anne, choice, AckDeadline(), on_time)
    assert (started, on_time.said) == (shares.EditStarted(available=True, claim=None), [])
    slow = Early()  # nothing is left of the time the platform waits: the form closes at once
    started = await shares.submit_edit(core, anne, choice, AckDeadline(0), slow)
    assert started == shares.EditStarted(available=True, claim=None)
    assert slow.said == [Message(Text("fr", "still_working", {}))]
