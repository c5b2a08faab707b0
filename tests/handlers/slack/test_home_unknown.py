"""The App Home lists the workspace's posts to a person its directory knows as active: someone whose first
look-up failed (Relais never heard from the directory about them) is unknown, not active, and sees their
own figures only; a real new member's first Home, the directory answering, lists the posts."""

from __future__ import annotations

from sqlalchemy import select

from models import Member
from tests.handlers.slack.driver import SlackDriver, article_server
from tests.handlers.slack.test_home import Sessions, _open_home, _text


async def test_a_person_whose_first_lookup_failed_sees_no_posts_and_a_new_member_does(
    slack: SlackDriver, sessions: Sessions
) -> None:
    async with article_server() as article:
        await slack.command("UADMIN", f"queue {article}/launch Proud of the team <#C0NEWS|news>")
    await slack.fake.wait_for_calls("chat.postMessage")

    slack.fake.fail_next("users.info", status=200, error="internal_error")
    unknown = _text(await _open_home(slack, "UEMP2", 1))  # Bob, met first while Slack fails
    assert "Acme raises" not in unknown
    assert "share_linkedin" not in unknown
    assert "Share a post to appear in the ranking." in unknown  # their own (empty) figures
    async with sessions() as session:
        bob = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
    assert bob.admin_checked_at is None  # never looked up: Relais knows nothing of them

    known = _text(await _open_home(slack, "UEMP3", 2))  # Carla's first contact; Slack's directory answers
    assert "Acme raises" in known
    assert "share_linkedin" in known
