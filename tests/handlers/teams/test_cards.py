"""Clicks on a post's card in Teams, through `/api/messages`: Share (the member's personal link, or an API
post once they connected the network), Not for me, Undo, each answered with the documented invoke
response types, and recorded once even when Teams sends the invoke again; the `Action.Submit` fallback
does the same, answered in the member's 1:1 chat."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.demo.fake_teams import CREATE, REPLY, SEND
from bot.web import TASKS_KEY
from models import Dismissal, Share, ShareStatus, SocialAccount, Suggestion, SuggestionState, TrackedLink
from tests.fakes.bot_framework import FakeBotFramework
from tests.fakes.social import FakeLinkedIn
from tests.handlers.teams.driver import SettingsFactory
from tests.handlers.teams.team import (
    ANN,
    ANN_CHAT,
    ARTICLE,
    BOB,
    BOB_CHAT,
    CHANNEL,
    Team,
    actions,
    button,
    card_text,
    elements,
    filled,
    installed_team,
)

Sessions = async_sessionmaker[AsyncSession]
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
PUBLIC = "https://relais.example.test"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


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
    )
    async with installed_team(settings, engine, sessions, bot_framework) as installed:
        yield installed


async def count(team: Team, model: Any) -> int:
    async with team.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def urls(card: dict[str, Any]) -> list[str]:
    return [a["url"] for a in actions(card) if a["type"] == "Action.OpenUrl"]


async def test_share_gives_the_member_their_personal_link_once_and_only_to_them(team: Team) -> None:
    card_id, card = await team.published()
    before = len(team.connector.calls)
    click = team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id)
    answer = await team.click(click)
    again = await team.click(click)  # Teams sent the invoke again
    assert answer["statusCode"] == 200
    assert answer["type"] == CARD
    assert "Here is your personal link to share on LinkedIn" in "\n".join(
        block.get("text", "") for block in answer["value"]["body"]
    )
    (share_page,) = urls(answer["value"])
    assert share_page.startswith(f"{PUBLIC}/s/")  # Relais's share link: it counts the share
    assert urls(again["value"]) == [share_page]
    assert await count(team, TrackedLink) == 1  # one link per member, post and network
    assert await count(team, Share) == 0  # counted when the link is opened
    assert team.connector.calls[before:] == []  # nothing posted where others would see it
    # This Relais can post to LinkedIn for Bob: the link comes with a Connect button.
    connect = await team.click(team.invoke(BOB, button(answer["value"], "connect_linkedin"), card_id=card_id))
    (start,) = urls(connect["value"])
    assert start.startswith(f"{PUBLIC}/oauth/linkedin/start?")


async def test_not_for_me_is_noted_once_with_a_message_answer(team: Team) -> None:
    card_id, card = await team.published()
    click = team.invoke(BOB, button(card, "not_for_me"), card_id=card_id)
    answer = await team.click(click)
    assert answer == {
        "statusCode": 200,
        "type": MESSAGE,
        "value": "Noted: this one is not for you. It won't come back in your reminders.",
    }
    await team.click(click)
    assert await count(team, Dismissal) == 1


async def test_a_click_relais_does_not_know_gets_the_error_type(team: Team) -> None:
    card_id, _ = await team.published()
    answer = await team.click(team.invoke(BOB, {"verb": "frobnicate", "data": {}}, card_id=card_id))
    assert answer["statusCode"] == 400
    assert answer["type"] == "application/vnd.microsoft.error"
    assert answer["value"]["code"] == "BadRequest"


async def test_the_submit_fallback_answers_in_the_members_own_chat(team: Team) -> None:
    card_id, card = await team.published()
    before = len(team.connector.calls)
    assert (
        await team.teams.post(team.submit(BOB, button(card, "share_x"), card_id=card_id))
    ).status_code == 202
    calls = team.connector.calls[before:]
    assert [call.operation for call in calls] == [CREATE, SEND]  # Bob's 1:1 chat, not the channel
    assert calls[1].conversation_id == BOB_CHAT
    assert "Here is your personal link to share on X" in card_text(calls[1].body)
    assert not [call for call in calls if call.operation == REPLY]
    # The install's welcome and the post: nothing more.
    assert len(team.connector.activities(CHANNEL)) == 2


async def browse(team: Team, url: str, cookie: str | None = None) -> httpx.Response:
    """A Relais page opened in the member's browser, i.e. in the running web app."""
    assert url.startswith(PUBLIC), url
    parts = urlsplit(url)
    headers = {"User-Agent": BROWSER, **({"Cookie": cookie} if cookie else {})}
    return await team.teams.client.get(
        f"{parts.path}?{parts.query}" if parts.query else parts.path, headers=headers
    )


async def connect_linkedin(team: Team) -> None:
    """Bob types `connect linkedin` in his chat, then his browser, signed in to Relais with Microsoft, goes
    through Relais's start page, LinkedIn's consent and Relais's callback (the real routes); he is told in
    his chat."""
    (reply,) = await team.say(team.personal(BOB, "connect linkedin"))
    (link,) = urls(reply["attachments"][0]["content"])
    bobs_session = await team.signed_in(BOB)
    start = await browse(team, link, bobs_session)
    assert start.status_code == 302, start.text
    cookie = start.headers["Set-Cookie"].split(";", 1)[0]
    async with httpx.AsyncClient() as browser:  # LinkedIn consents at once and sends the browser back
        consent = await browser.get(start.headers["Location"])
    page = await browse(team, consent.headers["Location"], f"{cookie}; {bobs_session}")
    assert page.status_code == 200, page.text
    assert team.teams.app is not None
    await asyncio.gather(*team.teams.app[TASKS_KEY])  # the confirmation, sent to Teams
    assert "Your LinkedIn account is connected" in card_text(team.connector.activities(BOB_CHAT)[-1])


async def test_a_connected_member_shares_through_the_api_once_and_can_undo(
    team: Team, linkedin: FakeLinkedIn
) -> None:
    card_id, card = await team.published()
    await connect_linkedin(team)
    click = team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id)
    posted = await team.click(click)
    assert await team.click(click) == posted  # Teams sent the invoke again: the same answer
    click["id"] += "-later"
    again = await team.click(click)  # Bob clicks again
    assert posted["type"] == CARD
    assert "Posted on LinkedIn. Thank you!" in card_text(
        {"attachments": [{"contentType": CARD, "content": posted["value"]}]}
    )
    assert "You already shared this on LinkedIn." in str(again["value"])
    assert len(linkedin.posts) == 1
    async with team.sessions() as session:
        (share,) = (await session.scalars(select(Share))).all()
    assert share.status is ShareStatus.POSTED
    undone = await team.click(team.invoke(BOB, button(posted["value"], "share_undo"), card_id=card_id))
    assert undone["statusCode"] == 200
    assert linkedin.posts == {}


async def test_edit_and_share_gives_a_form_whose_words_go_into_the_members_link(team: Team) -> None:
    card_id, card = await team.published()
    form = await team.click(team.invoke(BOB, button(card, "edit_share"), card_id=card_id))
    assert form["type"] == CARD
    inputs = {element["id"]: element for element in elements(form["value"]) if "id" in element}
    assert inputs["caption"]["value"] == "Proud of this one"
    assert [choice["value"] for choice in inputs["network"]["choices"]] == ["linkedin", "x"]
    wrong = filled(form["value"], "edit_submit", caption="Mine", network="myspace")
    refused = await team.click(team.invoke(BOB, wrong, card_id=card_id))
    assert refused["type"] == CARD
    assert "Choose at least one network (LinkedIn or X)." in str(refused["value"])
    assert await count(team, TrackedLink) == 0
    mine = filled(form["value"], "edit_submit", caption="My own words", network="x")
    answer = await team.click(team.invoke(BOB, mine, card_id=card_id))
    (link,) = urls(answer["value"])
    opened = await browse(team, link)
    assert opened.status_code == 303
    assert opened.headers["Location"].startswith("https://x.com/intent/tweet?text=My+own+words&url=")
    assert await count(team, TrackedLink) == 1
    assert await count(team, Share) == 1


async def test_an_admin_approves_a_suggestion_from_its_review_and_the_post_is_queued(team: Team) -> None:
    (thanks,) = await team.say(team.personal(BOB, f"suggest {ARTICLE} Worth a share"))
    assert "Your suggestion was sent to the admins" in card_text(thanks)
    review = team.connector.activities(ANN_CHAT)[-1]
    assert "<at>Bob Stone</at> suggests sharing" in card_text(review)
    content = review["attachments"][0]["content"]
    form = await team.click(
        team.invoke_in_chat(ANN, button(content, "suggestion_approve"), card_id=review["id"])
    )
    assert form["type"] == CARD
    inputs = {element["id"]: element for element in elements(form["value"]) if "id" in element}
    assert inputs["url"]["value"] == ARTICLE
    submit = filled(form["value"], "queue_submit")
    queued = await team.click(team.invoke_in_chat(ANN, submit, card_id=review["id"]))
    assert "is being published in" in queued["value"]
    async with team.sessions() as session:
        (suggestion,) = (await session.scalars(select(Suggestion))).all()
    assert suggestion.state is SuggestionState.APPROVED
    assert "Good news: your suggestion" in card_text(team.connector.activities(BOB_CHAT)[-1])


async def test_a_redelivered_form_submission_queues_one_post(team: Team) -> None:
    await team.say(team.personal(ANN, "queue"))
    form = team.connector.activities(ANN_CHAT)[-1]
    submit = filled(form["attachments"][0]["content"], "queue_submit", url=ARTICLE)
    invoke = team.invoke_in_chat(ANN, submit, card_id=form["id"])
    first, again = await asyncio.gather(team.click(invoke), team.click(invoke))
    assert first == again
    assert "is being published in" in first["value"]
    assert await team.click(invoke) == first
    assert await team.posts() == 1


async def test_a_connect_link_asked_for_in_the_channel_reaches_the_member_alone(team: Team) -> None:
    (answer,) = await team.say(team.in_channel(BOB, "connect linkedin"))
    (link,) = urls(answer["attachments"][0]["content"])
    assert link.startswith(f"{PUBLIC}/oauth/linkedin/start?")
    assert team.connector.activities(BOB_CHAT)[-1]["attachments"] == answer["attachments"]
    assert len(team.connector.activities(CHANNEL)) == 1  # the install's welcome only


async def test_a_click_is_answered_in_the_language_of_its_activity(team: Team) -> None:
    card_id, card = await team.published()
    click = team.invoke(BOB, button(card, "not_for_me"), card_id=card_id)
    click.update(locale="fr-FR", entities=[{"type": "clientInfo", "locale": "fr-FR"}])
    answer = await team.click(click)
    assert answer["value"].startswith("C'est noté : ce contenu n'est pas pour vous.")


async def test_in_the_members_own_chat_the_link_comes_as_a_message_and_the_card_stays(team: Team) -> None:
    _, card = await team.published()  # as if a nudge in Bob's chat showed it
    click = team.invoke_in_chat(BOB, button(card, "share_linkedin"), card_id="1764200000123")
    answer = await team.click(click)
    assert answer["type"] == MESSAGE
    assert answer["value"].startswith(f"Share on LinkedIn: {PUBLIC}/r/")
    (sent,) = team.connector.activities(BOB_CHAT)
    (share_page,) = urls(sent["attachments"][0]["content"])
    assert share_page.startswith(f"{PUBLIC}/s/")


async def personal_link(team: Team, action: str = "share_linkedin") -> str:
    """Bob clicks Share on the channel's post: the Relais share link on his answer's button."""
    card_id, card = await team.published()
    answer = await team.click(team.invoke(BOB, button(card, action), card_id=card_id))
    (link,) = urls(answer["value"])
    return link


async def test_opening_the_share_link_counts_the_share_once_then_goes_to_the_share_page(team: Team) -> None:
    link = await personal_link(team)
    first, again = await browse(team, link), await browse(team, link)
    async with team.sessions() as session:
        (share,) = (await session.scalars(select(Share))).all()
        (tracked,) = (await session.scalars(select(TrackedLink))).all()
    assert share.status is ShareStatus.INTENT
    assert share.network.value == "linkedin"
    # The link names the channel whose card gave it: the share records it (`test_share_channel`).
    assert link == f"{PUBLIC}/s/{tracked.code}?c=19%3Ageneral%40thread.tacv2"
    for opened in (first, again):
        assert opened.status_code == 303
        assert opened.headers["Location"] == (
            f"https://www.linkedin.com/sharing/share-offsite/?url=https%3A%2F%2Frelais.example.test%2Fr%2F{tracked.code}"
        )
        assert opened.headers["Cache-Control"] == "no-store"


async def test_the_x_share_link_carries_the_members_caption_variant(team: Team) -> None:
    link = await personal_link(team, "share_x")
    opened = await browse(team, link)
    assert opened.status_code == 303
    assert opened.headers["Location"].startswith("https://x.com/intent/tweet?text=Proud+of+this+one&url=")
    async with team.sessions() as session:
        (share,) = (await session.scalars(select(Share))).all()
    assert (share.network.value, share.caption) == ("x", "Proud of this one")


async def test_robots_and_previews_of_the_share_link_count_nothing(team: Team) -> None:
    link = await personal_link(team)
    path = urlsplit(link).path
    head = await team.teams.client.head(path, headers={"User-Agent": BROWSER})
    assert head.status_code == 303
    for robot in (
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
        "Slackbot-LinkExpanding 1.0",
        "",
    ):
        preview = await team.teams.client.get(path, headers={"User-Agent": robot})
        assert preview.status_code == 303
        assert preview.headers["Location"].startswith("https://www.linkedin.com/sharing/share-offsite/")
    assert await count(team, Share) == 0
    assert (await browse(team, link)).status_code == 303  # Bob himself
    assert await count(team, Share) == 1


async def test_an_unknown_share_link_is_a_clear_404_and_records_nothing(team: Team) -> None:
    await personal_link(team)
    for path in ("/s/AAAAAAAAAAAAAAAAAAAAAA", "/s/" + "a" * 65):
        page = await team.teams.client.get(path, headers={"User-Agent": BROWSER})
        assert page.status_code == 404
        assert "Link not found" in page.text
    # Not a code at all (a NUL, which PostgreSQL refuses in text): the router's 404, nothing looked up.
    assert (await team.teams.client.get("/s/%00", headers={"User-Agent": BROWSER})).status_code == 404
    assert await count(team, Share) == 0


async def test_the_share_link_of_a_cancelled_post_says_so_and_records_nothing(team: Team) -> None:
    link = await personal_link(team)
    async with team.sessions() as session:
        post_id = await session.scalar(select(TrackedLink.post_id))
    (cancelled,) = await team.say(team.personal(ANN, f"cancel {post_id}"))
    assert f"Post #{post_id} is cancelled" in card_text(cancelled)
    page = await browse(team, link)
    assert page.status_code == 410
    assert "This post can no longer be shared." in page.text
    assert await count(team, Share) == 0


async def test_a_connect_link_used_twice_says_how_to_ask_for_another_in_teams(team: Team) -> None:
    (reply,) = await team.say(team.personal(BOB, "connect linkedin"))
    (link,) = urls(reply["attachments"][0]["content"])
    assert (await browse(team, link, await team.signed_in(BOB))).status_code == 302
    again = await browse(team, link, await team.signed_in(BOB))
    assert again.status_code == 400
    assert (
        "This link was already used. Ask Relais for a new one in your chat: connect linkedin." in again.text
    )
    forged = await browse(team, link[:-6] + "AAAAAA")
    assert forged.status_code == 400
    assert "Ask Relais for a new one in your chat: connect linkedin." in forged.text


async def test_an_address_looking_up_too_many_share_links_is_told_to_wait(team: Team) -> None:
    """The look-ups of `/s/` are limited per address as `/r/`'s are (the clock stands still here)."""
    link = await personal_link(team)
    for _ in range(120):
        assert (await team.teams.client.get("/s/AAAAAAAAAAAAAAAAAAAAAA")).status_code == 404
    refused = await browse(team, link)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Too many requests" in refused.text
    assert await count(team, Share) == 0


async def test_a_forwarded_connect_link_or_consent_page_connects_nobody(
    team: Team, linkedin: FakeLinkedIn
) -> None:
    """The attack, in Teams: Bob (Mallory here) forwards his personal link to Ann, who opens it in her
    browser, signed in to Relais as Ann: refused, the link unused. Then he opens it himself and
    forwards LinkedIn's consent page: Ann consents in her browser, and the callback refuses it there
    (no state cookie; and, even with Bob's cookie planted, signed in as someone else). No code is
    exchanged and nothing is stored on either of them. The refused callback spends the link: Ann's
    consent, replayed in Bob's own browser (she sends him the address she landed on), connects nobody."""
    (reply,) = await team.say(team.personal(BOB, "connect linkedin"))
    (link,) = urls(reply["attachments"][0]["content"])
    anns_session = await team.signed_in(ANN)
    refused = await browse(team, link, anns_session)
    assert refused.status_code == 403
    assert "This link was made for someone else, so nothing was connected." in html.unescape(refused.text)
    assert "ask Relais in your chat: connect linkedin." in refused.text
    assert linkedin.calls == []

    start = await browse(team, link, await team.signed_in(BOB))
    assert start.status_code == 302
    bobs_state = start.headers["Set-Cookie"].split(";", 1)[0]
    async with httpx.AsyncClient() as anns_browser:  # Ann consents on the forwarded page
        callback = (await anns_browser.get(start.headers["Location"])).headers["Location"]
    in_anns_browser = await browse(team, callback, anns_session)
    assert in_anns_browser.status_code == 403  # told the link was someone else's
    replayed = await browse(team, callback, f"{bobs_state}; {await team.signed_in(BOB)}")
    assert replayed.status_code == 400
    assert "This link was already used." in replayed.text

    # Cookie tossing, on a new link: Bob's state cookie planted in Ann's browser.
    (reply,) = await team.say(team.personal(BOB, "connect linkedin"))
    (link,) = urls(reply["attachments"][0]["content"])
    start = await browse(team, link, await team.signed_in(BOB))
    bobs_state = start.headers["Set-Cookie"].split(";", 1)[0]
    async with httpx.AsyncClient() as anns_browser:
        callback = (await anns_browser.get(start.headers["Location"])).headers["Location"]
    planted = await browse(team, callback, f"{bobs_state}; {anns_session}")
    assert planted.status_code == 403
    assert linkedin.calls_to("access_token") == []
    assert await count(team, SocialAccount) == 0


async def test_a_connect_link_opened_signed_out_signs_in_with_microsoft_first(team: Team) -> None:
    (reply,) = await team.say(team.personal(BOB, "connect linkedin"))
    (link,) = urls(reply["attachments"][0]["content"])
    first = await browse(team, link)
    assert first.status_code == 303
    assert first.headers["Location"].startswith("/login?next=%2Foauth%2Flinkedin%2Fstart%3Ft%3D")
    to_microsoft = await team.teams.client.get(first.headers["Location"])
    assert to_microsoft.status_code == 302
    assert "/organizations/oauth2/v2.0/authorize?" in to_microsoft.headers["Location"]
