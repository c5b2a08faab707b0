"""`relais demo`: the real Relais app against the bundled fake Slack, so a newcomer sees it work at once.

Nothing is mocked inside Relais: the web app, a temporary SQLite database migrated by Alembic, Bolt's
signature checks and the Web API client all run as in production. Only Slack is local — the fake in
`bot/demo/fake_slack.py`, which the real `slack_sdk` talks to — and the requests Slack would send (slash
commands, button clicks) are signed with the demo's secret by `bot.demo.workspace.SlackDriver`. Both
ship in the package (the test suite uses them too), so the demo runs after a plain `pip install .`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import sys
import tempfile
from contextlib import AsyncExitStack
from ipaddress import ip_network
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot import migrate
from bot.config import Settings
from bot.db import normalize_database_url
from bot.demo.fake_slack import FakeSlack
from bot.demo.workspace import BOT_TOKEN, SIGNING_SECRET, SlackDriver, eventually, setup_workspace
from bot.web import wait_for_background_work

logger = logging.getLogger(__name__)

EXIT_FAILURE = 1
SHUTDOWN_TIMEOUT_SECONDS = 5.0

ADMIN, BOB, ELODIE = "UADMIN", "UEMP2", "UEMP1"  # as in the test suite's workspace (setup_workspace)
PEOPLE = {ADMIN: "Ada", BOB: "Bob", ELODIE: "Élodie"}
NEWS = "C0NEWS"
CAPTION = "Our new product is live!"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"

ARTICLE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme Beam</title>
<meta property="og:title" content="Meet Acme Beam, our new product">
<meta property="og:description" content="Acme Beam ships today: set up in minutes, loved by teams.">
<meta property="og:image" content="/cover.png">
</head><body><h1>Meet Acme Beam</h1></body></html>"""

_SLACK_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


class _DemoSettings(Settings):
    """The demo's settings come only from `run_demo`: the operator's environment and .env are ignored."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


async def run_demo(out: TextIO) -> int:
    """Play the scenario, printing what each person sees to `out`; 0 on success, a one-line error else."""
    try:
        async with AsyncExitStack() as stack:
            demo = await _start(stack, out)
            await demo.play()
    except Exception as exc:
        logger.debug("the demo failed", exc_info=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"relais demo failed: {type(exc).__name__}{': ' + reason if reason else ''}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


async def _start(stack: AsyncExitStack, out: TextIO) -> _Demo:
    """Fake Slack, the article page, a migrated temporary database and the Relais app, all on loopback;
    `stack` stops them in reverse order."""
    import httpx

    from bot.web import create_app

    fake = await stack.enter_async_context(FakeSlack(bot_token=BOT_TOKEN))
    setup_workspace(fake)
    article_host, article = await _serve_article(stack)

    folder = stack.enter_context(
        tempfile.TemporaryDirectory(prefix="relais-demo-", ignore_cleanup_errors=True)
    )
    database_url = normalize_database_url(f"sqlite:///{Path(folder) / 'demo.db'}")
    await asyncio.to_thread(migrate.upgrade, database_url)  # Alembic runs its own event loop

    # Bind the app's socket first: its address is PUBLIC_URL, the base of the tracked links.
    listener = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    settings = _DemoSettings(
        database_url=database_url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.api_url,
        public_url=f"http://127.0.0.1:{port}",
    )
    app = create_app(settings, fetch_allowed_networks=(ip_network(f"{article_host}/32"),))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.SockSite(runner, listener).start()

    # Bolt answers Slack first and works after (replies go to the response_url): before the app stops,
    # let what it started finish — once the client's connection is closed, which comes first.
    stack.push_async_callback(wait_for_background_work, asyncio.all_tasks(), SHUTDOWN_TIMEOUT_SECONDS)
    client = await stack.enter_async_context(
        httpx.AsyncClient(base_url=settings.base_url, timeout=10, follow_redirects=False)
    )
    return _Demo(out, fake, SlackDriver(client, fake), article)


async def _serve_article(stack: AsyncExitStack) -> tuple[str, str]:
    """The company's article, with Open Graph tags for the preview; returns (host, base URL).

    On 127.0.0.2, an address the app's fetcher is told to allow (its SSRF rule refuses loopback); where
    only 127.0.0.1 exists (macOS), there.
    """

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=ARTICLE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    for host in ("127.0.0.2", "127.0.0.1"):
        try:
            await web.TCPSite(runner, host, 0).start()
        except OSError:
            continue
        return host, f"http://{host}:{runner.addresses[0][1]}"
    raise OSError("cannot listen on a loopback address for the article page")


class _Demo:
    def __init__(self, out: TextIO, fake: FakeSlack, slack: SlackDriver, article: str) -> None:
        self.out = out
        self.fake = fake
        self.slack = slack
        self.article = article

    async def play(self) -> None:
        self.say(
            "Relais demo: the real Relais app, its database and signed Slack requests, against a local fake",
            "Slack workspace (Acme) with Ada (an admin), Bob, and Élodie, who uses Slack in French.",
        )
        message_ts = await self.queue()
        await self.share(BOB, "share_linkedin", message_ts)
        link = await self.share(ELODIE, "share_x", message_ts)
        await self.follow(link)
        await self.command(ADMIN, "stats")
        await self.command(ELODIE, "me")
        self.heading("Your turn")
        self.say(
            "To connect a real workspace, follow “Create the Slack app” in README.md, put",
            "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET in .env, then run `python3 dev.py run`",
            "(or `relais migrate` and `relais serve`).",
        )

    # -- the scenario --------------------------------------------------------------------------------------

    async def queue(self) -> str:
        """Ada queues the article into #news; returns the channel message's ts."""
        await self.command(ADMIN, f"queue <{self.article}/launch> {CAPTION} <#{NEWS}|news>")

        async def posted() -> bool:  # the push to the channel comes after the reply
            return bool(self.fake.messages.get(NEWS))

        await eventually(posted, timeout=10)
        message = self.channel_message()
        self.show("Everyone in #news sees (posted by Relais)", message)
        return str(message["ts"])

    async def share(self, user: str, action_id: str, message_ts: str) -> str:
        """`user` clicks a share button in #news, then opens the network; returns their tracked link."""
        name = PEOPLE[user]
        buttons = _buttons(self.channel_message())
        label = next(b["text"]["text"] for b in buttons if b["action_id"] == action_id)
        self.heading(f"{name} clicks [{label}] in #news")
        reply = await self.click(user, action_id, "1", message_ts=message_ts)
        self.show(f"{name} sees (only visible to {name})", reply)
        button = _buttons(reply)[0]
        opens = urlsplit(str(button["url"]))
        link = parse_qs(opens.query)["url"][0]
        self.say(f"  (the button opens {opens.netloc}, with {name}'s own tracked link {link})")

        self.heading(f"{name} clicks [{button['text']['text']}]")
        thanks = await self.click(user, str(button["action_id"]), str(button["value"]), url=opens.geturl())
        self.show(f"{name} sees (only visible to {name})", thanks)
        return link

    async def follow(self, link: str) -> None:
        """Someone on X clicks Élodie's post: a real browser request to her tracked link."""
        self.heading("Someone on X clicks Élodie's post (a browser opens her tracked link)")
        response = await self.slack.client.get(link, headers={"User-Agent": BROWSER})
        if response.status_code != 302:
            raise RuntimeError(f"GET {link} answered {response.status_code}, not a redirect")
        self.say(
            f"  GET {link} → {response.status_code} {response.reason_phrase}",
            f"  Location: {response.headers['Location']}",
            "  (the click counts for Élodie; the article sees where its visitor came from)",
        )

    async def command(self, user: str, text: str) -> None:
        name = PEOPLE[user]
        self.heading(f"{name}{' (admin)' if user == ADMIN else ''} runs /relais {self.plain(text)}")
        reply = await self.slack.command(user, text)
        self.show(f"{name} sees (only visible to {name})", reply)

    async def click(
        self, user: str, action_id: str, value: str, *, message_ts: str | None = None, url: str | None = None
    ) -> dict[str, Any]:
        """Click a button: in the channel message (`message_ts`), or in an ephemeral reply; return the
        ephemeral answer the app posts to the response_url."""
        sent = await self.slack.click(
            user, action_id, value, message_ts=message_ts, url=url, ephemeral=message_ts is None
        )
        if sent.status != 200:
            raise RuntimeError(f"the app answered {sent.status} to a click on {action_id}")
        return (await self.slack.responses(sent.url_id))[0]

    def channel_message(self) -> dict[str, Any]:
        return self.fake.messages[NEWS][-1]

    # -- printing ------------------------------------------------------------------------------------------

    def say(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.out)
        self.out.flush()

    def heading(self, title: str) -> None:
        self.say("", f"── {title} ──")

    def show(self, who: str, message: dict[str, Any]) -> None:
        self.say(f"{who}:", *(f"  {line}" for line in self.render(message)))

    def render(self, message: dict[str, Any]) -> list[str]:
        """A Slack message as a terminal shows it: Block Kit flattened, mrkdwn made plain."""
        blocks: list[dict[str, Any]] = message.get("blocks") or []
        if not blocks:
            return self.plain(str(message.get("text", ""))).splitlines()
        lines: list[str] = []
        for block in blocks:
            if block["type"] in ("section", "header") and block.get("text"):
                lines += self.plain(block["text"]["text"]).splitlines()
            if block["type"] == "section" and (block.get("accessory") or {}).get("type") == "image":
                lines.append(f"(picture: {block['accessory']['image_url']})")
            elif block["type"] == "context":
                lines += [self.plain(e["text"]) for e in block["elements"] if "text" in e]
            elif block["type"] == "actions":
                lines.append(" ".join(f"[{e['text']['text']}]" for e in block["elements"] if "text" in e))
            elif block["type"] == "divider":
                lines.append("─" * 20)
        return lines

    def plain(self, text: str) -> str:
        """mrkdwn → plain text: `<#C…>` → #name, `<@U…>` → @Name, `<url|label>` → label (url), no stars."""
        text = _SLACK_LINK.sub(self._link, text)
        text = _BOLD.sub(r"\1", text)
        text = re.sub(r"^>", "│ ", text, flags=re.MULTILINE)
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

    def _link(self, match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("#"):
            channel = self.fake.channels.get(target[1:])
            return "#" + (channel.name if channel else label or target[1:])
        if target.startswith("@"):
            user = self.fake.users.get(target[1:])
            return "@" + (user.real_name if user else label or target[1:])
        if target.startswith("!"):  # <!here>, <!channel>
            return "@" + (label or target[1:])
        return f"{label} ({target})" if label and label != target else target


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e for block in message.get("blocks") or [] if block["type"] == "actions" for e in block["elements"]
    ]
