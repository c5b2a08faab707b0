"""What members and admins read in Slack is the same before and after the clock's retention job has
folded their old clicks (RELAIS_RETENTION_DAYS): `/relais me` (points, rank, clicks) and `/relais stats`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.clock import FrozenClock
from models import Click
from scheduler import jobs
from tests.handlers.slack.driver import START, SlackDriver
from tests.handlers.slack.test_tracked_links import Sessions, _browser, _link_of

LATER = START + timedelta(days=70)  # 60 days back is 2026-12-05: the cutoff is Monday 2026-11-30


async def _what_people_read(slack: SlackDriver) -> list[str]:
    return [
        str((await slack.command(user, text))["text"])
        for user, text in (("UEMP2", "me"), ("UEMP3", "me"), ("UADMIN", "stats 1"), ("UADMIN", "stats"))
    ]


async def test_me_and_stats_read_the_same_after_the_clicks_are_folded(
    slack: SlackDriver, article: str, sessions: Sessions, clock: FrozenClock
) -> None:
    path = await _link_of(slack, sessions, article)  # Bob shares on X with his personal link
    await slack.responses((await slack.click("UEMP3", "open_share_x", "1:x", ephemeral=True)).url_id)
    for hour in range(3):
        for address in ("203.0.113.7", "198.51.100.4"):
            assert (await slack.client.get(path, headers=_browser(address, hour))).status_code == 302
        clock.advance(timedelta(hours=1))
    clock.set(LATER)
    before = await _what_people_read(slack)
    assert "Clicks your links brought: 6" in before[0]

    the_clock = jobs.Context(sessions, {}, FrozenClock(LATER).now, retention_days=60)
    assert "6 clicks folded into 1 weekly rows" in str(await jobs.run_job(the_clock, "retention"))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Click)) == 1
    assert await _what_people_read(slack) == before
