"""The admins' dashboard through HTTP: `/relais dashboard` gives its link, the admin signs in with Slack (the
fake Slack's OpenID Connect) and reads `/admin`, its period and filters, a post's page and the CSV files;
members, strangers and other workspaces' posts are refused. The figures are those worked out by hand in
`tests/bot/services/dashboard_data.py` (the data layer's tests show they equal `relais export`)."""

from __future__ import annotations

import base64
import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.demo.workspace import SlackDriver
from models import Platform, Workspace
from tests.bot.services.dashboard_data import LONG_AGO, NOW, Seeded, seed
from tests.handlers.slack.driver import TEAM, SettingsFactory, relais_app, setup_workspace
from tests.handlers.slack.test_signin import PUBLIC, Browser, Site, _settings, shown

ADMIN, BOB, ELODIE = "UADMIN", "UEMP2", "UEMP1"


@dataclass
class Dashboard:
    site: Site
    driver: SlackDriver
    seeded: Seeded

    async def admin(self, user: str = ADMIN) -> None:
        """`user` runs `/relais dashboard` (so Relais knows them and their admin flag), then signs in."""
        reply = await self.driver.command(user, "dashboard")
        assert f"{PUBLIC}/admin" in str(reply)
        landed = await self.site.sign_in(user, "/admin")
        assert landed.headers["location"] == "/admin"


@pytest.fixture
async def dashboard(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack
) -> AsyncIterator[Dashboard]:
    setup_workspace(fake_slack)
    clock = FrozenClock(NOW)
    settings = _settings(make_settings, fake_slack, relais_admins=ELODIE)
    async with relais_app(settings, engine, clock, fake_slack) as driver:
        site = Site(Browser(driver.client), fake_slack, clock, db.session_factory(engine))
        async with site.sessions() as session:
            workspace = Workspace(
                platform=Platform.SLACK, external_id=TEAM, created_at=LONG_AGO, updated_at=LONG_AGO
            )
            session.add(workspace)
            await session.flush()
            seeded = await seed(session, workspace_id=workspace.id)
            await session.commit()
        yield Dashboard(site, driver, seeded)


def row(*cells: object) -> str:
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


async def test_an_admin_sees_the_months_figures(dashboard: Dashboard) -> None:
    await dashboard.admin()
    page = await dashboard.site.browser.get("/admin")
    assert page.status_code == 200
    text = shown(page)
    assert "<h1>Relais dashboard</h1>" in text
    # Shares, then clicks, per week: LinkedIn, X, total.
    assert row("2026-11-09", 0, 1, 1) in text
    assert row("2026-11-23", 2, 0, 2) in text
    assert row("2026-11-23", 3, 0, 3) in text
    # Participation: Bob and Carla, Eve from the 18th, Ada since she ran the command (Dan left).
    assert row("2026-11-16", 1, 3, "33%") in text
    assert row("2026-11-23", 1, 4, "25%") in text
    # The funnel: reached, share clicks, shares, clicks, Not for me, its rate.
    news, launch = dashboard.seeded.news, dashboard.seeded.launch
    assert (
        f'<a href="/admin/posts/{news}?period=4">Acme news</a></td>'
        + "".join(f"<td>{cell}</td>" for cell in (3, 3, 2, 3, 1, "25%"))
        in text
    )
    assert "".join(f"<td>{cell}</td>" for cell in (1, 3, 2, 2, 0, "0%")) in text
    assert text.index("Acme news") < text.index("=HYPERLINK")  # most shared first
    assert row("Bob", 3, 3) in text
    assert row("Carla", 1, 2) in text
    # The other workspace's post and member are nowhere.
    assert "Elsewhere" not in text
    assert "Stranger" not in text

    # Three charts, drawn on the server, as images (a page without scripts).
    charts = re.findall(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)"', page.text)
    assert [alt for _, alt in charts] == ["Shares per week", "Clicks per week", "Participation per week"]
    svg = base64.b64decode(charts[0][0]).decode()
    assert svg.startswith("<?xml")
    assert "<svg" in svg
    assert "LinkedIn" in svg
    assert "2026-11-23" in svg
    assert "<script" not in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "img-src data:" in policy
    assert "script-src" not in policy
    assert page.headers["Cache-Control"] == "no-store"
    assert f"/admin/posts/{launch}?period=4" in page.text


async def test_the_period_switches_with_the_form(dashboard: Dashboard) -> None:
    await dashboard.admin()
    page = shown(
        await dashboard.site.browser.get("/admin", params={"period": "12", "network": "", "channel": ""})
    )
    assert '<option value="12" selected>12 weeks</option>' in page
    assert "The 12 weeks from Monday 2026-09-07" in page
    assert row("2026-09-28", 0, 1, 1) in page  # Carla's X share of 1 October
    assert row("Carla", 2, 2) in page
    assert "/admin/weeks.csv?period=12" in page


async def test_a_network_or_a_channel_narrows_the_figures(dashboard: Dashboard) -> None:
    await dashboard.admin()
    linkedin = shown(await dashboard.site.browser.get("/admin?period=4&network=linkedin"))
    assert '<option value="linkedin" selected>LinkedIn</option>' in linkedin
    assert row("2026-11-23", 2, 2) in linkedin  # only a LinkedIn column, and the total
    assert row("2026-11-09", 0, 0) in linkedin
    general = shown(await dashboard.site.browser.get("/admin?period=4&channel=C0GENERAL"))
    assert '<option value="C0GENERAL" selected>C0GENERAL</option>' in general
    assert "=HYPERLINK" in general
    assert "Acme news" not in general
    assert row("Carla", 1, 2) in general


async def test_bad_filters_are_a_clear_page(dashboard: Dashboard) -> None:
    await dashboard.admin()
    for query in ("period=7", "period=four", "network=myspace", "channel=C0NOWHERE"):
        page = await dashboard.site.browser.get(f"/admin?{query}")
        assert page.status_code == 400, query
        assert "is not one the dashboard offers" in shown(page)


async def test_a_post_has_its_own_page(dashboard: Dashboard) -> None:
    await dashboard.admin()
    news = dashboard.seeded.news
    page = await dashboard.site.browser.get(f"/admin/posts/{news}?period=4")
    assert page.status_code == 200
    text = shown(page)
    assert f"<h1>Post #{news}</h1>" in text
    assert row(3, 3, 2, 3, 1, "25%") in text
    assert row("LinkedIn", 1) in text
    assert row("X", 1) in text
    assert row("2026-11-23", 3, 0, 3) in text  # clicks over time
    assert row("C0NEWS", "2026-09-02T10:00+00:00") in text  # where it was pushed
    assert row("Proud of this", 1) in text
    assert row("(no caption)", 1) in text
    assert 'img src="data:image/svg+xml;base64,' in page.text


async def test_another_workspaces_post_is_not_found(dashboard: Dashboard) -> None:
    await dashboard.admin()
    for path in (
        f"/admin/posts/{dashboard.seeded.elsewhere}",
        f"/admin/posts/{dashboard.seeded.elsewhere}/weeks.csv",
    ):
        page = await dashboard.site.browser.get(path)
        assert page.status_code == 404, path
        assert "There is no such post in your workspace." in shown(page)
        assert "Elsewhere" not in page.text


async def test_every_table_downloads_as_formula_safe_csv(dashboard: Dashboard) -> None:
    await dashboard.admin()
    posts = await dashboard.site.browser.get("/admin/posts.csv?period=4")
    assert posts.status_code == 200
    assert posts.headers["Content-Type"].startswith("text/csv")
    assert 'filename="relais-posts-4w.csv"' in posts.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(posts.text, newline="")))
    assert [
        (r["title"], r["reached"], r["share_clicks"], r["shares"], r["clicks"], r["not_for_me"]) for r in rows
    ] == [
        ("Acme news", "3", "3", "2", "3", "1"),
        ('\'=HYPERLINK("https://evil.example","Launch")', "1", "3", "2", "2", "0"),
    ]
    weeks = list(
        csv.DictReader(io.StringIO((await dashboard.site.browser.get("/admin/weeks.csv?period=4")).text))
    )
    assert [(w["week"], w["shares"], w["clicks"], w["sharers"], w["active_members"]) for w in weeks] == [
        ("2026-11-02", "0", "0", "0", "2"),
        ("2026-11-09", "1", "1", "1", "2"),
        ("2026-11-16", "1", "1", "1", "3"),
        ("2026-11-23", "2", "3", "1", "4"),
    ]
    advocates = (await dashboard.site.browser.get("/admin/advocates.csv?period=4")).text
    assert advocates.splitlines() == ["member,name,shares,clicks", "UBOB,Bob,3,3", "UCARLA,Carla,1,2"]
    launch = dashboard.seeded.launch
    for table in ("weeks", "channels", "captions"):
        found = await dashboard.site.browser.get(f"/admin/posts/{launch}/{table}.csv?period=4")
        assert found.status_code == 200, table
    assert (await dashboard.site.browser.get("/admin/secrets.csv")).status_code == 404


async def test_a_member_who_is_not_an_admin_is_refused(dashboard: Dashboard) -> None:
    reply = await dashboard.driver.command(BOB, "dashboard")
    assert "Only Relais admins can use `/relais dashboard`" in str(reply)
    assert "/admin" not in str(reply).replace("/relais dashboard", "")
    await dashboard.site.sign_in(BOB, "/admin")
    for path in ("/admin", "/admin/posts.csv", f"/admin/posts/{dashboard.seeded.news}"):
        page = await dashboard.site.browser.get(path)
        assert page.status_code == 403, path
        assert "The dashboard is for Relais admins." in shown(page)
        assert "Acme news" not in page.text


async def test_a_browser_not_signed_in_is_sent_to_sign_in(dashboard: Dashboard) -> None:
    page = await dashboard.site.browser.get("/admin?period=12")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fadmin%3Fperiod%3D12"
    csv_file = await dashboard.site.browser.get("/admin/posts.csv")
    assert csv_file.status_code == 303


async def test_a_french_admin_reads_it_in_french(dashboard: Dashboard) -> None:
    """Élodie (Slack locale fr-FR) is an admin by RELAIS_ADMINS."""
    await dashboard.admin(ELODIE)
    page = shown(await dashboard.site.browser.get("/admin"))
    assert '<html lang="fr">' in page
    assert "<h1>Tableau de bord Relais</h1>" in page
    assert "<h2>Partages par semaine</h2>" in page
    assert row("2026-11-23", 1, 4, "25 %") in page
    assert "Meilleurs ambassadeurs" in page
    assert 'alt="Partages par semaine"' in page


NASTY = [
    "", " ", "0", "-4", "4.0", "４", "52 ", "x" * 300, "\x00", "linkedin\x00", "C0NEWS\n",
    "'; DROP TABLE share;--", "%00", "💥", "\ufffd", "=1+1",
]  # fmt: skip


async def test_any_filter_is_answered_without_a_server_error(dashboard: Dashboard) -> None:
    """Whatever the query says (a hand-edited address), the answer is the page, a clear 400, or a 404."""
    await dashboard.admin()
    paths = [
        "/admin",
        "/admin/weeks.csv",
        f"/admin/posts/{dashboard.seeded.news}",
        "/admin/posts/999999999999999999",
    ]
    for path in paths:
        for name in ("period", "network", "channel", "other"):
            for value in NASTY:
                page = await dashboard.site.browser.get(path, params={name: value})
                assert page.status_code in (200, 400, 404), (path, name, value, page.status_code)
