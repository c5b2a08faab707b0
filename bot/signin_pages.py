"""Browser sign-in: `GET /login?next=<path>`, `GET /login/<provider>`, `GET /login/<provider>/callback`
and `POST /logout`, and `signed_in` for every page that needs to know who is at the browser.

The chat platforms vouch for the person (`bot.signin`: OpenID Connect's authorization code flow); this
module keeps the rest. A sign-in starts with a random `state` kept in a short-lived cookie scoped to
`/login/` (so the callback is accepted only in the browser that started it) and, hashed, in the
database (so it is used once), a `nonce` the provider's ID token must carry, and a PKCE code verifier
kept in the database, whose S256 challenge goes to the provider (so the code is worth nothing to
anyone but this server). The callback checks the state before it calls the provider with the
verifier, refreshes the person's profile and admin flag through the platform's directory when the
provider offers one (`bot.signin.KnowsDirectory`, with the chat commands' look-up, `bot.flows.acting`:
no transaction is open across that call), and opens a session (`bot.services.web_sessions`) whose
token goes in an HttpOnly, SameSite=Lax cookie, Secure when `PUBLIC_URL` is https. Refusals are pages
in the browser's language, and change nothing.
"""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import urlencode

from aiohttp import web

from bot import signin
from bot.core import Relais
from bot.flows import acting
from bot.i18n import Language, t
from bot.services import members as member_service
from bot.services import web_sessions
from bot.services.members import language_of
from bot.services.web_sessions import SignedIn
from bot.web_pages import browser_language, escape, layout, link, paragraph

logger = logging.getLogger(__name__)

SESSION_COOKIE: Final = "relais_session"
SIGNIN_COOKIE: Final = "relais_signin"
SIGNIN_COOKIE_PATH: Final = "/login/"

CORE_KEY = web.AppKey("signin_core", Relais)
PROVIDERS_KEY = web.AppKey("signin_providers", dict[str, signin.SignInProvider])

# A provider's refusal or failure is no server error of Relais's (no request gets a 5xx): 400, as a bad
# code is; someone of a workspace Relais does not serve: 403.
REFUSED_STATUS: Final[dict[str, int]] = {"denied": 400, "provider_error": 400, "unknown_workspace": 403}


def install(app: web.Application, core: Relais, providers: dict[str, signin.SignInProvider]) -> None:
    app[CORE_KEY] = core
    app[PROVIDERS_KEY] = providers
    app.router.add_get("/login", handle_login)
    app.router.add_get("/login/{provider:[a-z]+}", handle_login_with)
    app.router.add_get("/login/{provider:[a-z]+}/callback", handle_callback)
    app.router.add_post("/logout", handle_logout)


def _secure(core: Relais) -> bool:
    return core.settings.base_url.startswith("https://")


def redirect_uri(core: Relais, provider: str) -> str:
    """The callback registered with the provider (it must match at every step)."""
    return f"{core.settings.base_url}/login/{provider}/callback"


def login_path(next_path: str) -> str:
    """Where a page sends a browser that is not signed in."""
    return "/login?" + urlencode({"next": next_path})


async def signed_in(request: web.Request) -> SignedIn | None:
    """Who is signed in at this browser (the session its cookie names), or None."""
    core = request.app[CORE_KEY]
    async with core.sessions() as session:
        found = await web_sessions.find_session(
            session, token=request.cookies.get(SESSION_COOKIE), now=core.clock.now()
        )
        await session.commit()  # an ended session deleted, or `last_seen` moved on
    return found


async def posted_form(request: web.Request) -> dict[str, str]:
    """The fields of one of our forms (they post `application/x-www-form-urlencoded`). Any other body,
    or one that does not parse (a multipart without its boundary, an unknown charset), has no fields,
    so it fails the CSRF check: a 403, never a 500."""
    if request.content_type != "application/x-www-form-urlencoded":
        return {}
    try:
        form = await request.post()
    except (ValueError, LookupError):  # UnicodeDecodeError is a ValueError; LookupError: no such charset
        return {}
    return {name: value for name, value in form.items() if isinstance(value, str)}


def csrf_ok(form_token: object, who: SignedIn) -> bool:
    return isinstance(form_token, str) and web_sessions.same_secret(form_token, who.csrf_token)


def csrf_refused(who: SignedIn) -> web.Response:
    lang = language_of(who.member)
    return layout(lang, t(lang, "csrf_title"), paragraph(t(lang, "csrf_refused")), status=403)


def _redirect(location: str, status: int = 303) -> web.Response:
    return web.Response(status=status, headers={"Location": location, "Cache-Control": "no-store"})


async def handle_login(request: web.Request) -> web.Response:
    """Straight to the provider when one is configured; a choice when several are."""
    next_path = web_sessions.safe_next(request.query.get("next"))
    if await signed_in(request) is not None:
        return _redirect(next_path)
    providers = request.app[PROVIDERS_KEY]
    lang = browser_language(request)
    if not providers:
        return layout(lang, t(lang, "signin_title"), paragraph(t(lang, "signin_not_configured")), status=404)
    if len(providers) == 1:
        return await _start(request, next(iter(providers.values())), next_path)
    query = urlencode({"next": next_path})
    choices = "".join(
        link(f"/login/{name}?{query}", t(lang, "signin_with", provider=provider.label))
        for name, provider in providers.items()
    )
    return layout(lang, t(lang, "signin_title"), paragraph(t(lang, "signin_choose")) + choices)


async def handle_login_with(request: web.Request) -> web.Response:
    provider = request.app[PROVIDERS_KEY].get(request.match_info["provider"])
    if provider is None:
        raise web.HTTPNotFound()
    return await _start(request, provider, web_sessions.safe_next(request.query.get("next")))


async def _start(request: web.Request, provider: signin.SignInProvider, next_path: str) -> web.Response:
    core = request.app[CORE_KEY]
    async with core.sessions() as session:
        started = await web_sessions.start_signin(
            session, provider=provider.name, next_path=next_path, now=core.clock.now()
        )
        await session.commit()
    location = provider.authorization_url(
        state=started.state,
        nonce=started.nonce,
        code_challenge=signin.code_challenge(started.code_verifier),
        redirect_uri=redirect_uri(core, provider.name),
    )
    response = _redirect(location, status=302)
    response.set_cookie(
        SIGNIN_COOKIE,
        started.state,
        max_age=int(web_sessions.SIGNIN_TTL.total_seconds()),
        path=SIGNIN_COOKIE_PATH,
        httponly=True,
        secure=_secure(core),
        samesite="Lax",  # sent on the provider's top-level redirect back, never on a cross-site post
    )
    return response


def _refused(lang: Language, message: str, *, status: int) -> web.Response:
    body = paragraph(message) + link("/login", t(lang, "signin_again"))
    response = layout(lang, t(lang, "signin_failed_title"), body, status=status)
    response.del_cookie(SIGNIN_COOKIE, path=SIGNIN_COOKIE_PATH)
    return response


async def handle_callback(request: web.Request) -> web.Response:
    """The provider sends the browser back here. Refused unless the state matches this browser's cookie
    and a sign-in under way (used up here, even when the rest fails); then the provider names the
    person, and the browser gets a new session and goes where it was going."""
    core = request.app[CORE_KEY]
    provider = request.app[PROVIDERS_KEY].get(request.match_info["provider"])
    if provider is None:
        raise web.HTTPNotFound()
    lang = browser_language(request)
    state = request.query.get("state", "")
    if not web_sessions.same_secret(state, request.cookies.get(SIGNIN_COOKIE)):
        return _refused(lang, t(lang, "signin_bad_state"), status=400)
    async with core.sessions() as session:
        attempt = await web_sessions.consume_signin(
            session, provider=provider.name, state=state, now=core.clock.now()
        )
        await session.commit()
    if attempt is None:
        return _refused(lang, t(lang, "signin_bad_state"), status=400)
    code = request.query.get("code")
    if "error" in request.query or not code:
        return _refused(lang, t(lang, "signin_denied"), status=400)
    try:
        identity = await provider.identify(
            code=code,
            redirect_uri=redirect_uri(core, provider.name),
            nonce=attempt.nonce,
            code_verifier=attempt.code_verifier,
        )
    except signin.SignInFailed as failure:
        logger.warning("sign-in with %s refused (%s)", provider.name, failure)
        message = t(lang, f"signin_{failure.code}", provider=provider.label)
        return _refused(lang, message, status=REFUSED_STATUS[failure.code])
    except Exception:
        logger.exception("sign-in with %s failed", provider.name)
        message = t(lang, "signin_provider_error", provider=provider.label)
        return _refused(lang, message, status=REFUSED_STATUS["provider_error"])
    if identity.workspace_checked and isinstance(provider, signin.KnowsDirectory):
        # The chat commands' admin right, known from the first sign-in (a failed look-up keeps what
        # Relais knew, as it does for a command).
        who = acting.Who(identity.platform, identity.workspace, identity.member)
        await acting.acting(core, provider.directory(), who)
    opened = await _open(core, identity, previous=request.cookies.get(SESSION_COOKIE))
    if opened is None:
        logger.warning("sign-in with %s refused: a workspace Relais does not serve", provider.name)
        message = t(lang, "signin_unknown_workspace", provider=provider.label)
        return _refused(lang, message, status=REFUSED_STATUS["unknown_workspace"])
    response = _redirect(attempt.next_path)
    response.del_cookie(SIGNIN_COOKIE, path=SIGNIN_COOKIE_PATH)
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=int(web_sessions.SESSION_TTL.total_seconds()),
        path="/",
        httponly=True,
        secure=_secure(core),
        samesite="Lax",
    )
    return response


async def _open(
    core: Relais, identity: signin.Identity, *, previous: str | None
) -> web_sessions.Opened | None:
    """The member the provider vouched for (created if Relais never met them), and a new session for
    them; a session this browser had before is closed. None, and nothing written, for a workspace the
    provider did not check (`Identity.workspace_checked`) that Relais does not already serve."""
    now = core.clock.now()
    async with core.sessions() as session:
        if identity.workspace_checked:
            workspace = await member_service.ensure_workspace(
                session, platform=identity.platform, external_id=identity.workspace, now=now
            )
        else:
            found = await member_service.find_workspace(
                session, platform=identity.platform, external_id=identity.workspace
            )
            if found is None or found.uninstalled_at is not None:
                return None  # never met, or the app was uninstalled there
            workspace = found
        member = await member_service.ensure_member(
            session, workspace=workspace, external_id=identity.member, now=now
        )
        member.display_name = member.display_name or identity.name
        member.locale = member.locale or identity.locale
        member.active = True  # the platform just vouched for the account
        await web_sessions.close_session(session, token=previous)
        opened = await web_sessions.open_session(session, member=member, now=now)
        await session.commit()
    return opened


async def handle_logout(request: web.Request) -> web.Response:
    """Sign out (a form of ours: its CSRF token must match the session's, else 403 and nothing ends)."""
    who = await signed_in(request)
    form = await posted_form(request)
    if who is not None and not csrf_ok(form.get("csrf_token"), who):
        return csrf_refused(who)
    core = request.app[CORE_KEY]
    async with core.sessions() as session:
        await web_sessions.close_session(session, token=request.cookies.get(SESSION_COOKIE))
        await session.commit()
    lang = language_of(who.member) if who is not None else browser_language(request)
    body = paragraph(t(lang, "signout_done")) + link("/login", t(lang, "signin_title"))
    response = layout(lang, t(lang, "signout_title"), body)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


__all__ = [
    "SESSION_COOKIE",
    "SIGNIN_COOKIE",
    "csrf_ok",
    "csrf_refused",
    "escape",
    "install",
    "posted_form",
    "signed_in",
]
