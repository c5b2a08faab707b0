"""Headless Chromium for the end-to-end tests: Debian's `chromium` package, driven through the Chrome
DevTools protocol by Playwright (its Python client launches the installed browser, `executable_path`;
nothing is downloaded, so `playwright install` is never needed).

Each person gets a browser of their own (a Playwright context: their own cookies). Every page shown is
checked for console errors and uncaught exceptions, and saved as a screenshot under
tests/e2e/artifacts/<test module>/ (ignored by git), named in the order the pages were shown.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, ConsoleMessage, Error, Page, Response, async_playwright

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
TIMEOUT_MS = 15_000  # the longest one browser step waits (a page, a click)
# Chromium's own report of a page answered with an error status (a refusal the test expects).
_LOAD_FAILED = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})\b")


def chromium() -> str | None:
    """The Chromium to drive: $RELAIS_CHROMIUM, else `chromium` (Debian's package) on PATH."""
    return os.environ.get("RELAIS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str | None:
    """Why the browser test cannot run here (None: it can)."""
    if chromium() is None:
        return "Chromium is not installed (on Debian: apt-get install chromium; or set RELAIS_CHROMIUM)"
    return None


def _expected(error: str, status: int) -> bool:
    """Chromium's console note that the page answered `status`, when the test expects that error status."""
    found = _LOAD_FAILED.match(error)
    return found is not None and status >= 400 and int(found.group(1)) == status


@dataclass
class Shots:
    """Where the screenshots of one test module go, numbered in the order they were taken."""

    folder: Path
    taken: int = 0

    def next(self, label: str) -> Path:
        self.taken += 1
        return self.folder / f"{self.taken:02d}-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}.png"


@dataclass
class Tab:
    """One person's browser tab. `errors` collects every console error and uncaught exception since the
    last page was checked; `show` checks it and takes the screenshot."""

    who: str
    page: Page
    shots: Shots
    origin: str  # Relais's: http://host:port
    errors: list[str] = field(default_factory=list)

    async def open(self, url: str, label: str, *, status: int = 200) -> Response:
        """Go to `url` (following redirects, as a person's browser does), expect the page it lands on to
        answer `status`, and show it."""
        response = await self.page.goto(url)
        assert response is not None, f"{self.who}: no response for {url}"
        await self.show(label, status=status, response=response)
        return response

    async def show(self, label: str, *, status: int = 200, response: Response | None = None) -> None:
        """The page as it is now: no console error (other than Chromium's note of the `status` the test
        expects, when that is an error status), then a full-page screenshot."""
        await self.page.wait_for_load_state("load")
        if response is not None:
            assert response.status == status, f"{self.who}: {response.url} answered {response.status}"
        unexpected = [error for error in self.errors if not _expected(error, status)]
        self.errors.clear()
        assert not unexpected, f"{self.who}: console errors on {self.page.url}: {unexpected}"
        await self.page.screenshot(path=self.shots.next(f"{self.who}-{label}"), full_page=True)

    async def text(self) -> str:
        return await self.page.inner_text("body")

    def _console(self, message: ConsoleMessage) -> None:
        """Relais's pages only: the fakes' pages (Slack's, LinkedIn's) stand in for sites not Relais's."""
        source = urlsplit(message.location.get("url") or self.page.url)
        if message.type == "error" and f"{source.scheme}://{source.netloc}" == self.origin:
            self.errors.append(f"{message.text} ({message.location.get('url') or self.page.url})")

    def _exception(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error.message}")


@dataclass
class Chromium:
    browser: Browser
    shots: Shots
    origin: str

    @asynccontextmanager
    async def tab(self, who: str) -> AsyncIterator[Tab]:
        """A fresh browser for `who` (no cookies), with one tab; closed after, its last page checked."""
        context = await self.browser.new_context(locale="en-US", viewport={"width": 1100, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        tab = Tab(who, page, self.shots, self.origin)
        page.on("console", tab._console)
        page.on("pageerror", tab._exception)
        try:
            yield tab
            assert not tab.errors, f"{who}: console errors on {page.url}: {tab.errors}"
        finally:
            await context.close()


@asynccontextmanager
async def chromium_browser(module: str, origin: str) -> AsyncIterator[Chromium]:
    """Headless Chromium for a test module, checking the pages of Relais at `origin`; its screenshots go
    to tests/e2e/artifacts/<module>/ (emptied first)."""
    executable = chromium()
    assert executable is not None, missing()
    folder = ARTIFACTS / module
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield Chromium(browser, Shots(folder), origin)
        finally:
            await browser.close()
