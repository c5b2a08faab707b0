"""`relais demo`, run as a newcomer runs it: the real command, in a separate process, with no settings."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot import demo
from tests.bot.test_cli import relais


def test_demo_plays_the_scenario_and_prints_what_each_person_sees(tmp_path: Path) -> None:
    # Settings that would stop any other command: the demo ignores the environment and .env.
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=not-a-bot-token\n")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = relais("demo", DATABASE_URL="mysql://db/relais", PORT="abc", TMPDIR=str(temporary))

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    expected_in_order = [
        "── Ada (admin) runs /relais queue http://127.0.0.",  # the article page, on loopback
        "Post #1 is published in #news.",  # Ada's ephemeral confirmation
        "Everyone in #news sees",
        "Suggested caption: Our new product is live!",
        "[Share on LinkedIn] [Share on X] [Edit & share] [Not for me]",
        "── Bob clicks [Share on LinkedIn] in #news ──",
        "Here is your personal link to share on LinkedIn.",
        "[Open LinkedIn]",
        "Thanks! Your share on LinkedIn is counted.",
        "── Élodie clicks [Share on X] in #news ──",
        "Voici votre lien personnel pour partager sur X.",
        "── Élodie clicks [Ouvrir X] ──",
        "Merci ! Votre partage sur X est compté.",
        "→ 302 Found",
        "Location: http://127.0.0.",
        "utm_source=x&utm_medium=employee_advocacy",
        "── Ada (admin) runs /relais stats ──",
        "Shares: 2 (LinkedIn 1, X 1) · Clicks: 1",
        "Top sharers: @Bob (1), @Élodie (1)",
        "── Élodie runs /relais me ──",
        "Clics apportés par vos liens : 1",
        "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET in .env",
    ]
    position = 0
    for fragment in expected_in_order:
        found = out.find(fragment, position)
        assert found >= 0, f"{fragment!r} missing (or out of order) in:\n{out}"
        position = found + len(fragment)
    # Slack's mrkdwn is made readable: no raw ids, links or stars.
    for raw in ("<#C0NEWS", "<@U", "*Stats", "&amp;"):
        assert raw not in out
    assert list(temporary.iterdir()) == []  # the temporary database is gone


def test_demo_has_help() -> None:
    result = relais("demo", "--help")
    assert result.returncode == 0
    assert "local fake Slack: no credentials needed" in result.stdout


async def test_demo_outside_a_source_checkout_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "ROOT", tmp_path)  # an installed package: no tests/fakes next to it
    assert await demo.run_demo(io.StringIO()) == 2
    assert capsys.readouterr().err == "relais demo needs a source checkout of Relais (tests/fakes)\n"
