"""End to end in a real browser: headless Chromium (Debian's `chromium`, driven over the Chrome DevTools
protocol by Playwright, tests/e2e/browser.py) against the real `relais serve` (Slack, SQLite in a
temporary folder) with the fake Slack and the fake LinkedIn as local servers, and the real `relais
migrate` and `relais export` commands.

The data comes through the real entry points: signed Slack requests (the admin queues a post into
#news, members share it) and people's clicks on their tracked links. Then each person signs in with
Slack in a browser of their own, and every page they see is checked: no console error, the numbers
equal to what `relais export` gives for the same database, and a screenshot in tests/e2e/artifacts/.

Run by `python3 dev.py e2e` (and so by `.ci/run`); not by `python3 dev.py test` (skipped unless
RELAIS_E2E is set; with RELAIS_E2E=required, a missing Chromium fails the run).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import signal
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot import db
from bot.demo.fake_slack import FakeSlack
from bot.demo.workspace import BOT_TOKEN, SIGNING_SECRET, SlackDriver, eventually, setup_workspace
from bot.i18n import t
from bot.services.scores import CLICK_CAP, INTENT_POINTS, POSTED_POINTS
from models import Member, SocialAccount
from tests.bot.test_cli import RELAIS, _environment, _wait_until_up
from tests.conftest import free_port
from tests.e2e.browser import Chromium, Tab, chromium_browser, missing
from tests.fakes.social import FakeLinkedIn

if os.environ.get("RELAIS_E2E") is None:
    pytest.skip("the browser test runs with `python3 dev.py e2e`", allow_module_level=True)
_why = missing()
if _why is not None:
    if os.environ.get("RELAIS_E2E") == "required":
        pytest.fail(f"the browser test cannot run: {_why}", pytrace=False)
    pytest.skip(_why, allow_module_level=True)

# One site for the module (the servers, the data, one Chromium); each test is a person's own browser.
pytestmark = pytest.mark.asyncio(loop_scope="module")

# A name under .invalid never resolves: the post shows the link itself (no preview).
ARTICLE = "https://news.example.invalid/relais-in-the-browser"
ADA, ELODIE, BOB, CARLA = "UADMIN", "UEMP1", "UEMP2", "UEMP3"  # bot.demo.workspace.setup_workspace
LANGUAGE = {ADA: "en", ELODIE: "fr", BOB: "en", CARLA: "en"}  # from their Slack locales
NEWS = "C0NEWS"
NETWORKS = ("linkedin", "x")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"  # a person, not a robot

# The start of what a member is told when a link was made for someone else (in French: Élodie's own).
SOMEONE_ELSES_LINK = t("fr", "oauth_other_member", network="LinkedIn", word="linkedin").split(".")[0]


@dataclass
class Site:
    """The running `relais serve`, the fakes it talks to, the environment its commands share (the
    database), and Chromium."""

    url: str
    environment: dict[str, str]
    slack: FakeSlack
    linkedin: FakeLinkedIn
    chromium: Chromium

    async def command(self, *arguments: str) -> str:
        """Run `relais <arguments>` against the same database; returns what it printed."""
        process = await asyncio.create_subprocess_exec(
            RELAIS,
            *arguments,
            env=self.environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        return out.decode()

    async def export(self, kind: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads(await self.command("export", kind, "--format", "json"))
        return rows

    async def sign_in(self, tab: Tab, user: str, path: str = "/me") -> None:
        """`user` opens `path` in their browser: Relais sends them to sign in with Slack (the fake's
        consent page, as `user` is signed in to Slack there), and back to `path`."""
        self.slack.sign_in_as(user)
        await tab.page.goto(f"{self.url}{path}")
        assert urlsplit(tab.page.url).path == path, tab.page.url

    async def accounts(self, user: str) -> list[str]:
        """The person ids of the social accounts the database holds for `user`."""
        engine = db.create_engine(self.environment["DATABASE_URL"])
        try:
            async with db.session_factory(engine)() as session:
                found = await session.scalars(
                    select(SocialAccount.external_person_id)
                    .join(Member, Member.id == SocialAccount.member_id)
                    .where(Member.external_id == user)
                )
                return list(found)
        finally:
            await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """Fake Slack and fake LinkedIn in this process, `relais serve` (Slack, with Sign in with Slack and
    LinkedIn configured) on a migrated SQLite database of its own, the data, and Chromium."""
    folder = tmp_path_factory.mktemp("browser")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with FakeSlack(bot_token=BOT_TOKEN) as slack, FakeLinkedIn() as linkedin:
        setup_workspace(slack)
        for user in slack.users.values():  # the names people go by in Slack, as Relais shows them
            user.display_name = user.real_name
        environment = _environment(
            DATABASE_URL=f"sqlite:///{folder / 'relais.db'}",
            PORT=str(port),
            PUBLIC_URL=url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            SLACK_CLIENT_ID=slack.client_id,
            SLACK_CLIENT_SECRET=slack.client_secret,
            SLACK_OIDC_AUTHORIZE_URL=slack.authorize_url,
            ENCRYPTION_KEY=Fernet.generate_key().decode(),
            LINKEDIN_CLIENT_ID=linkedin.client_id,
            LINKEDIN_CLIENT_SECRET=linkedin.client_secret,
            LINKEDIN_AUTH_URL=linkedin.auth_url,
            LINKEDIN_API_URL=linkedin.api_url,
        )
        async with chromium_browser("browser", url) as chromium:
            running = Site(url, environment, slack, linkedin, chromium)
            await running.command("migrate")
            served = chromium.shots.folder / "serve.log"  # kept with the screenshots
            with served.open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    RELAIS, "serve", env=environment, stdout=log, stderr=asyncio.subprocess.STDOUT
                )
                try:
                    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                        await _wait_until_up(client, process)
                        await _share_a_post(SlackDriver(client, slack))
                    yield running
                    process.send_signal(signal.SIGTERM)
                    assert await asyncio.wait_for(process.wait(), 20) == 0
                finally:
                    if process.returncode is None:
                        process.kill()
                        await process.wait()
    log_text = served.read_text()
    assert "Traceback" not in log_text, log_text
    assert re.search(r" 5\d\d \d", log_text) is None, log_text  # the access log: no 5xx


async def _share_a_post(slack: SlackDriver) -> None:
    """Ada queues the article into #news; Ada and Bob share it on LinkedIn, Élodie on X; people click
    Bob's link once and Élodie's twice."""
    await slack.command(ADA, f"queue <{ARTICLE}> Relais, now in your browser <#{NEWS}|news>")

    async def posted() -> bool:  # the push to the channel comes after the reply
        return bool(slack.fake.messages.get(NEWS))

    await eventually(posted, timeout=10)
    message = slack.fake.messages[NEWS][-1]
    links = {}
    for user, network in ((ADA, "linkedin"), (BOB, "linkedin"), (ELODIE, "x")):
        (share,) = [b for b in _buttons(message) if b["action_id"] == f"share_{network}"]
        sent = await slack.click(user, share["action_id"], str(share["value"]), message_ts=message["ts"])
        assert sent.status == 200
        # The answer's first button opens the network with the member's tracked link; clicking it counts
        # the share (a personal link).
        opened = _buttons((await slack.responses(sent.url_id))[0])[0]
        sent = await slack.click(
            user, str(opened["action_id"]), str(opened["value"]), url=str(opened["url"]), ephemeral=True
        )
        assert sent.status == 200
        await slack.responses(sent.url_id)
        links[user] = parse_qs(urlsplit(str(opened["url"])).query)["url"][0]
    for user, times in ((BOB, 1), (ELODIE, 2)):
        for _ in range(times):
            visited = await slack.client.get(links[user], headers={"User-Agent": BROWSER})
            assert visited.status_code == 302, visited.text


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e for block in message.get("blocks") or [] if block["type"] == "actions" for e in block["elements"]
    ]


@dataclass
class Exported:
    """`relais export` of the whole database, read once."""

    shares: list[dict[str, Any]]  # every share row (share clicks); `counted` marks those that count
    clicks: list[dict[str, Any]]  # the counted clicks only
    members: list[dict[str, Any]]

    @classmethod
    async def read(cls, site: Site) -> Exported:
        shares, clicks, members = await asyncio.gather(*map(site.export, ("shares", "clicks", "members")))
        return cls(shares, [row for row in clicks if row["counted"]], members)

    @property
    def counted(self) -> list[dict[str, Any]]:
        return [row for row in self.shares if row["counted"]]

    def weekly(
        self, weeks: list[str], rows: list[dict[str, Any]], at: str, networks: tuple[str, ...] = NETWORKS
    ) -> list[list[str]]:
        """A weekly table as the dashboard shows it: week, a column per network (LinkedIn, X; only the
        one chosen), total."""
        per = Counter((monday(row[at]), row["network"]) for row in rows)
        return [
            [
                week,
                *(str(per[week, network]) for network in networks),
                str(sum(per[week, n] for n in networks)),
            ]
            for week in weeks
        ]

    def filtered(self, posts: list[dict[str, Any]], network: str | None, channel: str | None) -> Exported:
        """The rows the dashboard counts with a network or a channel chosen: that network's shares and
        clicks, those of the posts pushed to that channel (the members stay all of them)."""

        def kept(row: dict[str, Any]) -> bool:
            in_channel = channel is None or row["post_id"] in {
                post["id"] for post in posts if channel in (post["channels"] or [])
            }
            return in_channel and (network is None or row["network"] == network)

        return Exported(
            [row for row in self.shares if kept(row)], [row for row in self.clicks if kept(row)], self.members
        )


def points_per_week(exported: Exported, user: str) -> Counter[str]:
    """`user`'s points by the Monday of the week they were earned, from `relais export` alone: a share
    in its week; a link's counted clicks of one week (at most 20) in that week."""
    points: Counter[str] = Counter()
    for row in exported.counted:
        if row["member"] == user:
            points[monday(row["created_at"])] += POSTED_POINTS if row["status"] == "posted" else INTENT_POINTS
    weekly = Counter(
        (row["post_id"], row["network"], monday(row["at"]))
        for row in exported.clicks
        if row["member"] == user
    )
    for (*_, week), count in weekly.items():
        points[week] += min(count, CLICK_CAP)
    return points


def expected_me(exported: Exported, user: str, now: datetime) -> dict[str, str]:
    """What `/me` must show `user`, worked out from `relais export` alone: shares that count, those of
    the last 7 days, the counted clicks on their links, points (10 a share posted through the API, 3 one
    by personal link, a click 1, at most 20 a link a week), and the rank among members with points."""
    shares, clicks = exported.counted, exported.clicks
    points: Counter[str] = Counter()
    for row in shares:
        points[row["member"]] += POSTED_POINTS if row["status"] == "posted" else INTENT_POINTS
    weekly = Counter(
        (row["member"], row["post_id"], row["network"], datetime.fromisoformat(row["at"]).strftime("%Y-%W"))
        for row in clicks
    )
    for (member, *_), count in weekly.items():
        points[member] += min(count, CLICK_CAP)
    mine = [row for row in shares if row["member"] == user]
    week = [row for row in mine if datetime.fromisoformat(row["created_at"]) >= now - timedelta(days=7)]
    lang = LANGUAGE[user]
    rank = (
        t(
            lang,
            "me_rank_value",
            rank=1 + sum(1 for p in points.values() if p > points[user]),
            participants=len(points),
        )
        if points[user]
        else t(lang, "me_no_rank")
    )
    return {
        t(lang, "me_shares_week"): str(len(week)),
        t(lang, "me_shares_total"): str(len(mine)),
        t(lang, "me_clicks"): str(sum(1 for row in clicks if row["member"] == user)),
        t(lang, "me_points"): str(points[user]),
        t(lang, "me_rank_label"): rank,
    }


async def figures(tab: Tab) -> dict[str, str]:
    """The rows of the page's first table, as a person reads them: heading → value."""
    rows: list[list[str]] = await tab.page.eval_on_selector_all(
        "body > table:first-of-type tr",
        "rows => rows.map(row => [row.querySelector('th'), row.querySelector('td')]"
        ".map(cell => cell ? cell.innerText : ''))",
    )
    return {heading.strip(): value.strip() for heading, value in rows}


TABLES_JS = """() => Array.from(document.querySelectorAll('table')).map(table => {
    // A table is in its scrolling box, a chart's beside the chart in their block: the heading is above.
    const box = table.closest('.chart-with-table') || table.closest('.table') || table;
    let heading = box.previousElementSibling;
    while (heading && heading.tagName !== 'H2') heading = heading.previousElementSibling;
    const cells = row => Array.from(row.cells).map(cell => cell.innerText.trim());
    return {heading: heading ? heading.innerText.trim() : '',
            head: Array.from(table.querySelectorAll('thead tr')).flatMap(cells),
            rows: Array.from(table.querySelectorAll('tbody tr')).map(cells)};
})"""


@dataclass
class Table:
    heading: str  # the h2 above it ('' for none)
    head: list[str]
    rows: list[list[str]]

    def column(self, name: str) -> list[str]:
        at = self.head.index(name)
        return [row[at] for row in self.rows]


async def tables(tab: Tab) -> dict[str, Table]:
    """The page's tables as a person reads them, by the heading above each (the first one if several)."""
    found: dict[str, Table] = {}
    for table in await tab.page.evaluate(TABLES_JS):
        found.setdefault(table["heading"], Table(table["heading"], table["head"], table["rows"]))
    return found


def monday(at: str) -> str:
    """The Monday (UTC) of the week an exported timestamp falls in, as the dashboard names weeks."""
    day = datetime.fromisoformat(at).astimezone(UTC).date()
    return (day - timedelta(days=day.weekday())).isoformat()


async def _dashboard_shows_the_export(
    site: Site, tab: Tab, label: str, weeks: int, *, network: str | None = None, channel: str | None = None
) -> None:
    """The dashboard's tables equal `relais export` (filtered as the page is: `network`, `channel`)."""
    await tab.show(label)
    lang, found = "en", await tables(tab)
    everything, pushed = await Exported.read(site), await site.export("posts")
    exported = everything.filtered(pushed, network, channel)
    networks = NETWORKS if network is None else (network,)
    shares = found[t(lang, "admin_shares_chart")]
    assert shares.head == [
        t(lang, "admin_week"),
        *(t(lang, f"network_{n}") for n in networks),
        t(lang, "admin_total"),
    ]
    shown_weeks = [row[0] for row in shares.rows]
    assert len(shown_weeks) == weeks, shown_weeks
    assert shares.rows == exported.weekly(shown_weeks, exported.counted, "created_at", networks)
    clicks = found[t(lang, "admin_clicks_chart")]
    assert clicks.rows == exported.weekly(shown_weeks, exported.clicks, "at", networks)
    participation = found[t(lang, "admin_participation_chart")]
    sharers = {
        week: {row["member"] for row in exported.counted if monday(row["created_at"]) == week}
        for week in shown_weeks
    }
    assert participation.column(t(lang, "admin_sharers")) == [str(len(sharers[week])) for week in shown_weeks]
    assert participation.column(t(lang, "admin_active_members"))[-1] == str(len(exported.members))

    posts = found[t(lang, "admin_posts")]
    assert len({row["post_id"] for row in everything.shares}) == 1  # one row: the one post
    assert posts.column(t(lang, "admin_share_clicks")) == [str(len(exported.shares))]
    assert posts.column(t(lang, "admin_shares")) == [str(len(exported.counted))]
    assert posts.column(t(lang, "admin_clicks")) == [str(len(exported.clicks))]

    names = {row["member"]: row["name"] for row in exported.members}
    advocates = Counter(names[row["member"]] for row in exported.counted)
    brought = Counter(names[row["member"]] for row in exported.clicks)
    assert sorted(found[t(lang, "admin_advocates")].rows) == sorted(
        [name, str(count), str(brought[name])] for name, count in advocates.items()
    )


async def _me_shows_the_export(site: Site, tab: Tab, user: str, label: str) -> None:
    await tab.show(label)
    shown, exported = await figures(tab), await Exported.read(site)
    assert shown == expected_me(exported, user, datetime.now(UTC)), shown
    (member,) = [row for row in exported.members if row["member"] == user]
    lang = LANGUAGE[user]
    assert t(lang, "me_signed_in_as", name=member["name"]) in await tab.text()

    # Points per week: the last 12 weeks, from Monday (UTC), as the export adds them up.
    weekly = (await tables(tab))[t(lang, "me_points_per_week")]
    assert weekly.head == [t(lang, "me_week"), t(lang, "me_week_points")]
    this_week = datetime.now(UTC).date() - timedelta(days=datetime.now(UTC).weekday())
    weeks = [(this_week - timedelta(weeks=back)).isoformat() for back in range(11, -1, -1)]
    earned = points_per_week(exported, user)
    assert weekly.rows == [[week, str(earned[week])] for week in weeks]
    assert sum(earned.values()) == int(shown[t(lang, "me_points")])  # all of it is recent
    assert await tab.page.locator(f"img[alt='{t(lang, 'me_points_per_week')}']").is_visible()


CHARTS_JS = """() => Array.from(document.querySelectorAll('.chart-with-table')).map(block => {
    const chart = block.querySelector('img').getBoundingClientRect();
    const table = block.querySelector('table').getBoundingClientRect();
    if (table.right > document.documentElement.clientWidth + 1) return 'cut';
    if (table.top >= chart.bottom - 1) return 'under';
    return table.left >= chart.right - 1 && Math.abs(table.top - chart.top) < 2 ? 'beside' : 'overlap';
})"""


async def _charts_and_tables(tab: Tab) -> list[str]:
    """Where each chart's table is, as laid out in this window: beside the chart, under it (or cut off,
    overlapping: never)."""
    found: list[str] = await tab.page.evaluate(CHARTS_JS)
    return found


async def _csv_is_the_table(tab: Tab, name: str, heading: str, columns: list[str]) -> None:
    """Download `<name>.csv` through the page's link (with the page's filters), and find in it the rows
    of the table under `heading`, its `columns` in the table's order; no cell reads as a formula."""
    async with tab.page.expect_download() as started:
        await tab.page.locator(f"a[href^='/admin/{name}.csv?']").first.click()
    download = await started.value
    assert download.suggested_filename.startswith(f"relais-{name}-")
    text = (await download.path()).read_bytes().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [[row[column] for column in columns] for row in rows] == (await tables(tab))[t("en", heading)].rows
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values() if cell)


async def test_an_admin_signs_in_with_slack_sees_their_numbers_and_signs_out(site: Site) -> None:
    async with site.chromium.tab("ada") as tab:
        await site.sign_in(tab, ADA, "/me")
        await _me_shows_the_export(site, tab, ADA, "me")
        assert (await figures(tab))[t("en", "me_points")] == str(INTENT_POINTS)  # her one share, no click

        async with tab.page.expect_navigation() as signed_out:
            await tab.page.get_by_role("button", name=t("en", "signout_button")).click()
        await tab.show("signed-out", response=await signed_out.value)
        assert t("en", "signout_done") in await tab.text()
        # Signed out: /me asks to sign in again (Slack's page: nobody is signed in to Slack any more).
        site.slack.sign_in_as(None)
        response = await tab.page.goto(f"{site.url}/me")
        assert response is not None
        assert response.status == 401
        assert urlsplit(tab.page.url).path == urlsplit(site.slack.authorize_url).path
        await tab.show("slack-sign-in", status=401)


async def test_an_admin_opens_the_dashboard_switches_the_period_and_opens_a_post(site: Site) -> None:
    async with site.chromium.tab("ada-admin") as tab:
        await site.sign_in(tab, ADA, "/admin")
        await _dashboard_shows_the_export(site, tab, "dashboard", weeks=4)
        assert await _charts_and_tables(tab) == ["beside"] * 3
        await tab.page.set_viewport_size({"width": 380, "height": 800})  # a phone: each table under its chart
        assert await _charts_and_tables(tab) == ["under"] * 3
        assert await tab.page.evaluate("document.documentElement.scrollWidth") <= 380  # a wide table scrolls
        await tab.show("dashboard-narrow")
        await tab.page.set_viewport_size({"width": 1100, "height": 800})

        await tab.page.select_option("select[name=period]", "12")
        await tab.page.get_by_role("button", name=t("en", "admin_show")).click()
        await tab.page.wait_for_url("**/admin?*period=12*")
        await _dashboard_shows_the_export(site, tab, "dashboard-12-weeks", weeks=12)

        # The network, then the channel too: the figures are the export's of that network, that channel.
        await tab.page.select_option("select[name=network]", "linkedin")
        await tab.page.get_by_role("button", name=t("en", "admin_show")).click()
        await tab.page.wait_for_url("**/admin?*network=linkedin*")
        await _dashboard_shows_the_export(site, tab, "dashboard-linkedin", weeks=12, network="linkedin")
        await _csv_is_the_table(tab, "weeks", "admin_shares_chart", ["week", "shares_linkedin", "shares"])
        await _csv_is_the_table(tab, "advocates", "admin_advocates", ["name", "shares", "clicks"])

        await tab.page.select_option("select[name=network]", "")
        await tab.page.select_option("select[name=channel]", NEWS)
        await tab.page.get_by_role("button", name=t("en", "admin_show")).click()
        await tab.page.wait_for_url(f"**/admin?*channel={NEWS}*")
        await _dashboard_shows_the_export(site, tab, "dashboard-news", weeks=12, channel=NEWS)

        exported = await Exported.read(site)
        (post_id,) = {row["post_id"] for row in exported.shares}
        await tab.page.locator(f"a[href^='/admin/posts/{post_id}?']").click()
        await tab.page.wait_for_url(f"**/admin/posts/{post_id}?*")
        await tab.show("post")
        found = await tables(tab)
        (figures_table,) = [table for heading, table in found.items() if heading == ""]
        assert figures_table.column(t("en", "admin_share_clicks")) == [str(len(exported.shares))]
        assert figures_table.column(t("en", "admin_shares")) == [str(len(exported.counted))]
        assert figures_table.column(t("en", "admin_clicks")) == [str(len(exported.clicks))]
        by_network = Counter(row["network"] for row in exported.counted)
        assert found[t("en", "admin_shares_by_network")].rows == [
            [t("en", f"network_{network}"), str(by_network[network])] for network in ("linkedin", "x")
        ]
        shown_weeks = [row[0] for row in found[t("en", "admin_clicks_chart")].rows]
        assert len(shown_weeks) == 12
        assert found[t("en", "admin_clicks_chart")].rows == exported.weekly(
            shown_weeks, exported.clicks, "at"
        )


async def test_a_member_sees_their_numbers_in_their_language(site: Site) -> None:
    async with site.chromium.tab("elodie") as tab:
        await site.sign_in(tab, ELODIE, "/me")
        await _me_shows_the_export(site, tab, ELODIE, "me")
        assert await tab.page.get_attribute("html", "lang") == "fr"
        # Her X share (a personal link: 3) and the click it brought (the same visitor's second is not
        # counted).
        assert (await figures(tab))[t("fr", "me_points")] == str(INTENT_POINTS + 1)

        # The dashboard is for admins: a refusal in her language, and no figure.
        await tab.open(f"{site.url}/admin", "admin-refused", status=403)
        assert t("fr", "admin_refused") in await tab.text()
        assert await tables(tab) == {}


async def test_a_member_connects_linkedin_in_the_browser(site: Site) -> None:
    slack = site.slack
    site.linkedin.consent_as("li-bob")
    async with (
        site.chromium.tab("bob") as tab,
        httpx.AsyncClient(base_url=site.url, timeout=10) as client,
    ):
        await site.sign_in(tab, BOB, "/me")
        await _me_shows_the_export(site, tab, BOB, "me-before")
        assert t("en", "me_no_connection") in await tab.text()

        reply = await SlackDriver(client, slack).command(BOB, "connect linkedin")
        (start,) = [b["url"] for b in _buttons(reply) if b.get("action_id") == "connect_open"]
        await tab.open(start, "linkedin-connected")
        assert urlsplit(tab.page.url).path == "/oauth/linkedin/callback"
        assert t("en", "oauth_connected", network="LinkedIn") in await tab.text()
        assert await site.accounts(BOB) == ["li-bob"]

        await tab.page.goto(f"{site.url}/me")
        await _me_shows_the_export(site, tab, BOB, "me-connected")
        assert t("en", "me_disconnect_button", network="LinkedIn") in await tab.text()


async def test_a_forwarded_connect_link_connects_nobody(site: Site) -> None:
    """Carla (Mallory) forwards her start link to Élodie, then the LinkedIn consent page it leads to:
    Élodie, signed in to Relais as herself, gets a refusal each time, and nothing is stored."""
    site.linkedin.consent_as("li-elodie")
    async with (
        site.chromium.tab("carla") as mallory,
        site.chromium.tab("elodie-forwarded") as alice,
        httpx.AsyncClient(base_url=site.url, timeout=10) as client,
    ):
        driver = SlackDriver(client, site.slack)
        await site.sign_in(alice, ELODIE, "/me")

        # The start link itself, forwarded.
        reply = await driver.command(CARLA, "connect linkedin")
        (start,) = [b["url"] for b in _buttons(reply) if b.get("action_id") == "connect_open"]
        await alice.open(start, "forwarded-start-link", status=403)
        assert urlsplit(alice.page.url).netloc == urlsplit(site.url).netloc  # never sent to LinkedIn
        assert SOMEONE_ELSES_LINK in await alice.text()

        # The consent page: Carla opens a new start link in her own browser, signed in as herself (it
        # sets her browser's state cookie and leads to LinkedIn), and forwards LinkedIn's page to Élodie
        # instead of consenting; Élodie consents there as herself.
        await site.sign_in(mallory, CARLA, "/me")
        reply = await driver.command(CARLA, "connect linkedin")
        (start,) = [b["url"] for b in _buttons(reply) if b.get("action_id") == "connect_open"]
        to_linkedin = await mallory.page.request.get(start, max_redirects=0)
        assert to_linkedin.status == 302, await to_linkedin.text()
        consent_page = to_linkedin.headers["location"]
        assert consent_page.startswith(f"{site.linkedin.auth_url}/authorization?")
        await alice.open(consent_page, "forwarded-consent-page", status=403)
        assert urlsplit(alice.page.url).path == "/oauth/linkedin/callback"
        # Told in her own language that the link was someone else's.
        assert SOMEONE_ELSES_LINK in await alice.text()

        assert await site.accounts(CARLA) == []
        assert await site.accounts(ELODIE) == []
        await alice.open(f"{site.url}/me", "me-not-connected")
        assert t("fr", "me_no_connection") in await alice.text()
