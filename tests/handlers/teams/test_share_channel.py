"""Where a share came from, through `/api/messages` and the member's Relais share link: Share clicked on the
card in a team's channel records that channel (an API share at the click; a personal link's share when
the link it answered with is opened), one from the member's 1:1 chat (a reminder) records none, and a
link naming a channel the post was never pushed to records none either."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import select

from models import Share, ShareStatus
from tests.handlers.teams.team import ANN, BOB, CHANNEL, NEWS, Team, button
from tests.handlers.teams.test_cards import PUBLIC, browse, connect_linkedin, team, urls

__all__ = ["team"]  # the fixture, as `test_cards` builds it


async def _channels(team: Team) -> list[tuple[str, str | None]]:
    async with team.sessions() as session:
        shares = (await session.scalars(select(Share).order_by(Share.id))).all()
    return [(share.network.value, share.channel) for share in shares]


async def test_a_share_from_the_channels_card_records_the_channel(team: Team) -> None:
    card_id, card = await team.published()
    answer = await team.click(team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id))
    (link,) = urls(answer["value"])
    assert parse_qs(urlsplit(link).query) == {"c": [CHANNEL]}
    assert (await browse(team, link)).status_code == 303
    assert await _channels(team) == [("linkedin", CHANNEL)]


async def test_a_share_from_a_reminder_in_the_members_chat_records_no_channel(team: Team) -> None:
    _, card = await team.published()  # as a nudge in Bob's chat shows it
    await team.click(team.invoke_in_chat(BOB, button(card, "share_x"), card_id="1764200000123"))
    (sent,) = team.connector.activities("a:bob-personal")
    (link,) = urls(sent["attachments"][0]["content"])
    assert urlsplit(link).query == ""
    assert (await browse(team, link)).status_code == 303
    assert await _channels(team) == [("x", None)]


async def test_a_link_naming_a_channel_the_post_never_went_to_records_no_channel(team: Team) -> None:
    card_id, card = await team.published()
    answer = await team.click(team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id))
    (link,) = urls(answer["value"])
    parts = urlsplit(link)
    assert parts.path.startswith("/s/")
    forged = f"{PUBLIC}{parts.path}?{urlencode({'c': NEWS})}"  # a channel of the team, not of this post
    assert (await browse(team, forged)).status_code == 303
    assert await _channels(team) == [("linkedin", None)]


async def test_an_api_share_from_the_channels_card_records_the_channel(team: Team) -> None:
    card_id, card = await team.published()
    await connect_linkedin(team)
    posted = await team.click(team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id))
    assert posted["statusCode"] == 200
    async with team.sessions() as session:
        (share,) = (await session.scalars(select(Share))).all()
    assert share.status is ShareStatus.POSTED
    assert share.channel == CHANNEL


async def test_the_posts_page_names_the_channel_as_teams_does(team: Team) -> None:
    """Ann, who installed Relais (an admin), opens the post's page after Bob's share from the channel."""
    card_id, card = await team.published()
    answer = await team.click(team.invoke(BOB, button(card, "share_linkedin"), card_id=card_id))
    (link,) = urls(answer["value"])
    assert (await browse(team, link)).status_code == 303
    page = await browse(team, f"{PUBLIC}/admin/posts/1?period=4", await team.signed_in(ANN))
    assert page.status_code == 200, page.text
    # The General channel, named as Teams names it (the team's name: Relais keeps it from Teams' activities).
    assert "<tr><td>Acme</td><td>1</td><td>0</td><td>1</td></tr>" in page.text
    table = await browse(
        team, f"{PUBLIC}/admin/posts/1/sharechannels.csv?period=4", await team.signed_in(ANN)
    )
    assert table.text.splitlines() == [
        "channel,name,shares_linkedin,shares_x,shares",
        f"{CHANNEL},Acme,1,0,1",
    ]
