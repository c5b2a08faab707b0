"""`relais demo`, run as a newcomer runs it: the real command, in a separate process, with no settings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.bot.test_cli import relais

ROOT = Path(__file__).resolve().parents[2]


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
        # Ada's ephemeral confirmation
        "Post #1 is being published in #news. I'll tell you if a channel refuses it.",
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


def test_demo_runs_from_a_plain_install_without_test_tools(tmp_path: Path) -> None:
    """`pip install .` (not editable, no extras), run from another folder: no pytest, no `tests`
    package and no source checkout on the path, and the demo still plays."""
    # A copy of the source, so that the build leaves nothing in the checkout.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", "*.db*"),
    )
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    assert (target / "bot" / "demo" / "fake_slack.py").is_file()
    assert not (target / "tests").exists()
    # The installed copy first; the venv's libraries after it, with the test tools made unimportable.
    run = (
        "import sys\n"
        f"sys.path = [{str(target)!r}]"
        " + [p for p in sys.path if p.startswith((sys.prefix, sys.base_prefix))]\n"
        "sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
        "for name in ('pytest', '_pytest', 'tests', 'hypothesis'):\n"
        "    sys.modules[name] = None\n"
        "import bot\n"
        f"assert bot.__file__.startswith({str(target)!r}), bot.__file__\n"
        "from bot.cli import main\n"
        "sys.exit(main(['demo']))\n"
    )
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    result = subprocess.run(
        [sys.executable, "-I", "-c", run],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Thanks! Your share on LinkedIn is counted." in result.stdout
    assert "Shares: 2 (LinkedIn 1, X 1) · Clicks: 1" in result.stdout
