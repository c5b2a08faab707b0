"""The seam between the core's browser sign-in and the chat platforms that vouch for a person.

A platform adapter (`bot.platforms.Platform`) offers sign-in by also having a `sign_in(settings)` method
(`SignsIn`) that returns its `SignInProvider` when the settings configure one (Slack: `SLACK_CLIENT_ID`),
else None. The core keeps everything else: the state and nonce, the cookies, the session, the pages
(`bot.signin_pages`); the provider only builds its authorization URL and turns the code it sends back
into an `Identity`, refusing a person of a workspace this Relais does not serve.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from bot.config import Settings

# Why a provider refused: the code names the page the browser gets (`signin_<code>` in bot/i18n).
Refusal = Literal["denied", "provider_error", "unknown_workspace"]


@dataclass(frozen=True)
class Identity:
    """Who the provider says is at the browser, as their chat platform names them."""

    platform: str  # the adapter's name, as `models.Workspace.platform` holds it
    workspace: str  # the team / tenant id
    member: str  # the platform's user id
    name: str | None = None
    locale: str | None = None


class SignInFailed(Exception):
    """The provider did not vouch for anyone. `str(error)` is for the log (never a token)."""

    def __init__(self, code: Refusal, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code: Refusal = code


class SignInProvider(Protocol):
    """One way to sign in (OpenID Connect's authorization code flow)."""

    # The path segment of its routes (`/login/<name>/callback`) and its label on the chooser page.
    name: str
    label: str

    def authorization_url(self, *, state: str, nonce: str, redirect_uri: str) -> str:
        """The provider's page where the person consents; it comes back to `redirect_uri` with a code."""
        ...

    async def identify(self, *, code: str, redirect_uri: str, nonce: str) -> Identity:
        """Exchange `code` for the person's identity, checked (nonce, audience, workspace served).
        Raises `SignInFailed`. Called outside any transaction: it is a network call."""
        ...


@runtime_checkable
class SignsIn(Protocol):
    """A platform adapter that offers sign-in."""

    def sign_in(self, settings: Settings) -> SignInProvider | None: ...


def providers(platforms: Iterable[object], settings: Settings) -> dict[str, SignInProvider]:
    """The sign-in providers these settings configure, by name, in the platforms' order."""
    found: dict[str, SignInProvider] = {}
    for platform in platforms:
        if isinstance(platform, SignsIn):
            provider = platform.sign_in(settings)
            if provider is not None and provider.name not in found:
                found[provider.name] = provider
    return found
