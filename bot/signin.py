"""The seam between the core's browser sign-in and the chat platforms that vouch for a person.

A platform adapter (`bot.platforms.Platform`) offers sign-in by also having a `sign_in(settings)` method
(`SignsIn`) that returns its `SignInProvider` when the settings configure one (Slack: `SLACK_CLIENT_ID`),
else None. The core keeps everything else: the state, the nonce and the PKCE code verifier (RFC 7636,
S256: kept server side with the sign-in under way, never in a cookie), the cookies, the session, the
pages (`bot.signin_pages`); the provider only builds its authorization URL (with the code challenge) and
turns the code it sends back into an `Identity` (sending the verifier), refusing a person of a
workspace this Relais does not serve.

A provider whose platform has a user directory (Slack's users.info) also offers it (`KnowsDirectory`):
the core then refreshes the signed-in person's profile and admin flag through it at sign-in, as the
chat commands' look-up of who is acting does (`bot.flows.acting`), so that a workspace admin who
signs in before ever using the bot is an admin on the web too. Microsoft's sign-in has no such call:
there the installer and RELAIS_ADMINS rule stays.

PKCE binds the code to the server that started the sign-in: a code that leaks from the browser (a log,
a Referer, a code injected into another sign-in's callback) is useless without the verifier, which
never leaves this server until the token request. The two functions below are RFC 7636 §4.1-4.2 with
the standard library (the S256 transform is checked against the RFC's Appendix B example in tests); the
connect flow's PKCE (`bot.services.connections`) uses the same.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, Protocol, runtime_checkable

from bot.config import Settings
from bot.services.members import Directory

# Why a provider refused: the code names the page the browser gets (`signin_<code>` in bot/i18n).
Refusal = Literal["denied", "provider_error", "unknown_workspace"]

# The one code challenge method Relais sends: `plain` would put the verifier itself in the browser.
PKCE_METHOD: Final = "S256"


def new_code_verifier() -> str:
    """A PKCE code verifier: 32 random octets, base64url (43 characters of RFC 7636's unreserved set)."""
    return secrets.token_urlsafe(32)


def code_challenge(code_verifier: str) -> str:
    """The S256 code challenge of `code_verifier`: BASE64URL(SHA256(ASCII(verifier))), unpadded."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Identity:
    """Who the provider says is at the browser, as their chat platform names them."""

    platform: str  # the adapter's name, as `models.Workspace.platform` holds it
    workspace: str  # the team / tenant id
    member: str  # the platform's user id
    name: str | None = None
    locale: str | None = None
    # False when the provider accepts people of any workspace of its kind (a multi-tenant Microsoft app
    # registration): the core then lets in only a workspace Relais already serves (the bot is installed).
    workspace_checked: bool = True


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

    def authorization_url(self, *, state: str, nonce: str, code_challenge: str, redirect_uri: str) -> str:
        """The provider's page where the person consents; it comes back to `redirect_uri` with a code.
        `code_challenge` is sent with `code_challenge_method=S256` (`PKCE_METHOD`)."""
        ...

    async def identify(self, *, code: str, redirect_uri: str, nonce: str, code_verifier: str) -> Identity:
        """Exchange `code` (with the PKCE `code_verifier`) for the person's identity, checked (nonce,
        audience, workspace served). Raises `SignInFailed`. Called outside any transaction: it is a
        network call."""
        ...


@runtime_checkable
class KnowsDirectory(Protocol):
    """A provider whose platform can say who a person is (their profile and admin flag)."""

    def directory(self) -> Directory:
        """The platform's user directory, as the chat commands' look-up of who is acting uses it."""
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
