"""The aiohttp web application: each chat platform's request URL, tracked links, OAuth pages and the
health check.

`create_app` builds the core (`bot.core.Relais`: sessions, clock, the share writer, the preview fetcher,
the social clients) and lets every installed platform adapter (`bot.platforms`) add its routes; what
starts and stops with the server (the share writer, a platform's connections, the engine) is registered
on the application's cleanup context, so tests and `relais serve` run the same code.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import ipaddress
import logging
from collections.abc import AsyncIterator
from ipaddress import IPv4Network, IPv6Network
from typing import Any

import httpx
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import admin_page, db, me_page, oauth_pages, platforms, signin, signin_pages
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.core import Relais
from bot.flows import share_links
from bot.services import links
from bot.services.posting import Poster
from bot.services.preview import PreviewFetcher
from bot.services.shares import ShareWriter
from models import Workspace

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT_SECONDS = 3.0
# The server's own read limits, which `relais serve` gives aiohttp. Its keep-alive timer runs from the
# moment a connection opens, and again after each response, and closes a connection whose request head
# has not fully arrived by then: HEADER_TIMEOUT_SECONDS is the header read timeout (Slack sends its
# headers at once). The body's timeout and size are the Slack route's (`handlers.slack.ingress`). A
# request refused before its body was read has that body drained for at most LINGER_SECONDS, so the
# client reads the refusal rather than a reset, then the connection is closed.
HEADER_TIMEOUT_SECONDS = 5.0
LINGER_SECONDS = 1.0
SOCIAL_TIMEOUT_SECONDS = 10.0

ENGINE_KEY = web.AppKey("engine", AsyncEngine)
SETTINGS_KEY = web.AppKey("settings", Settings)
DEPS_KEY = web.AppKey("deps", Relais)
PLATFORMS_KEY = web.AppKey("platforms", list[platforms.Platform])
HTTP_KEY = web.AppKey("social_http", httpx.AsyncClient)
TASKS_KEY = web.AppKey("tasks", set[asyncio.Task[None]])
VISITS_KEY = web.AppKey("visits", links.VisitCounter)
SHARE_LINKS_KEY = web.AppKey("share_links", share_links.ShareLinks)


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    clock: Clock | None = None,
    fetch_allowed_networks: tuple[IPv4Network | IPv6Network, ...] = (),
    social_timeout: float = SOCIAL_TIMEOUT_SECONDS,
    adapters: list[platforms.Platform] | None = None,
) -> web.Application:
    """Build the web application, with the routes of every installed chat platform (`bot.platforms`).
    Raises `ConfigError` if a platform is configured incompletely, or a social network without
    `ENCRYPTION_KEY`.

    When `engine` is given the caller owns it; otherwise the app creates one and disposes of it on
    shutdown. `fetch_allowed_networks` exempts addresses from the link-preview SSRF rule (tests only);
    `social_timeout` bounds each call to LinkedIn and X. `adapters` replaces the installed chat platforms
    (a platform that is no package's entry point: the tests' own).
    """
    settings.require_social()
    # Each platform's ingress bounds its own bodies; aiohttp's default bound (1 MiB) holds for the rest.
    app = web.Application()
    app[SETTINGS_KEY] = settings
    owns_engine = engine is None
    app[ENGINE_KEY] = engine if engine is not None else db.create_engine(settings.database_url)
    app[HTTP_KEY] = platforms.new_http_client(social_timeout)
    app[TASKS_KEY] = set()
    sessions = db.session_factory(app[ENGINE_KEY])
    social = platforms.social_clients(settings, app[HTTP_KEY])
    cipher = settings.fernet if settings.encryption_key is not None else None
    clock = clock or SystemClock()
    fetcher = PreviewFetcher(allowed_networks=fetch_allowed_networks)
    app[DEPS_KEY] = Relais(
        settings=settings,
        sessions=sessions,
        clock=clock,
        shares=ShareWriter(sessions),
        fetcher=fetcher,
        poster=Poster(
            sessions,
            clients=social,
            cipher=cipher,
            base_url=settings.base_url,
            now=clock.now,
            images=fetcher.fetch_image,
        ),
        social=social,
        cipher=cipher,
    )
    app.cleanup_ctx.append(_services)
    app[VISITS_KEY] = links.VisitCounter(
        sessions, salts=links.DailySalts(sessions, secret=visitor_secret(settings)), now=clock.now
    )
    app[SHARE_LINKS_KEY] = share_links.ShareLinks(app[DEPS_KEY])

    app.router.add_get("/healthz", handle_healthz)
    app.router.add_get("/favicon.ico", handle_favicon)
    # Codes are token_urlsafe: anything else (a NUL, which PostgreSQL refuses in text) is 404 unlooked-up.
    app.router.add_get("/r/{code:[A-Za-z0-9_-]+}", handle_tracked_link)
    app.router.add_get("/s/{code:[A-Za-z0-9_-]+}", handle_share_link)
    app.router.add_get("/oauth/{network}/start", handle_oauth_start)
    app.router.add_get("/oauth/{network}/callback", handle_oauth_callback)
    app[PLATFORMS_KEY] = platforms.installed() if adapters is None else adapters
    for platform in app[PLATFORMS_KEY]:
        platform.install(app, app[DEPS_KEY])
    adapters_in_use: list[platforms.Platform] = app[PLATFORMS_KEY]
    signin_pages.install(app, app[DEPS_KEY], signin.providers(adapters_in_use, settings))
    me_page.install(app)
    admin_page.install(app)

    if owns_engine:
        app.on_cleanup.append(_dispose_engine)
    return app


class AccessLogger(AbstractAccessLogger):
    """One line per request without the query string, which can carry one-time secrets (a connect link's
    token, an OAuth code and state), and without the client's address: a tracked link's visitor's IP
    address is never stored in clear, logs included (README, Privacy)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %d %.1fms", request.method, request.path, response.status, time * 1000)


async def handle_favicon(request: web.Request) -> web.Response:
    """Browsers ask every site for /favicon.ico. Relais has no icon, and a 404 would be an error in the
    browser's console on every page: no content, which browsers keep for a day."""
    return web.Response(status=204, headers={"Cache-Control": "public, max-age=86400"})


async def handle_healthz(request: web.Request) -> web.Response:
    """200 when the database answers within a few seconds with Relais's schema in it (and, on SQLite,
    from the file at its path), 503 otherwise: load balancers read this. A server whose database file
    was deleted still answers from the open connections, and loses all it writes."""
    engine = request.app[ENGINE_KEY]
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
            await db.ping(engine, select(Workspace.id).limit(1))
    except Exception as exc:
        # The reason is logged for the operator, not shown: it may name hosts or users.
        logger.warning("health check: database unavailable (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable", "database": "unavailable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def handle_oauth_start(request: web.Request) -> web.Response:
    return await oauth_pages.handle_start(request.app[DEPS_KEY], request, _commands(request.app))


def _commands(app: web.Application) -> dict[str, str]:
    """How each configured platform's people call Relais, by platform name (`bot.i18n.COMMAND`)."""
    settings = app[SETTINGS_KEY]
    return {
        platform.name: platform.command for platform in app[PLATFORMS_KEY] if platform.configured(settings)
    }


async def handle_oauth_callback(request: web.Request) -> web.Response:
    """After a connection the member's confirmation is sent at once (the clock would send it too)."""
    response, connected_in = await oauth_pages.handle_callback(
        request.app[DEPS_KEY], request, _commands(request.app)
    )
    if connected_in is not None:
        _send_soon(request.app, connected_in)
    return response


def _send_soon(app: web.Application, workspace_id: int) -> None:
    """What was just enqueued in workspace `workspace_id` goes out now, in the background, rather than
    on the clock's next pass (the other workspaces' messages are the clock's)."""
    for platform in app[PLATFORMS_KEY]:
        task = asyncio.create_task(platform.drain(app, workspace_id))
        app[TASKS_KEY].add(task)
        task.add_done_callback(app[TASKS_KEY].discard)


NOT_FOUND_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Link not found</title>
<body style="font-family:sans-serif;max-width:32em;margin:4em auto">
<h1>Link not found</h1><p>This link does not exist or is no longer valid.</p>
<p lang="fr">Ce lien n'existe pas ou n'est plus valide.</p></body></html>"""


TOO_MANY_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Too many requests</title>
<body style="font-family:sans-serif;max-width:32em;margin:4em auto">
<h1>Too many requests</h1><p>Please try this link again in a moment.</p>
<p lang="fr">Trop de demandes : réessayez ce lien dans un instant.</p></body></html>"""

UNAVAILABLE_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Try again shortly</title>
<body style="font-family:sans-serif;max-width:32em;margin:4em auto">
<h1>Try again shortly</h1><p>This link cannot be opened right now. Please try again in a minute.</p>
<p lang="fr">Ce lien ne peut pas être ouvert pour l'instant : réessayez dans une minute.</p></body></html>"""


async def handle_tracked_link(request: web.Request) -> web.Response:
    """`/r/<code>`: redirect (302) to the article, counting the click once per visitor, link and hour
    (`links.VisitCounter`: not robots, not repeats, not beyond the rate limits)."""
    code = request.match_info["code"]
    if len(code) > 64:
        return web.Response(status=404, text=NOT_FOUND_PAGE, content_type="text/html")
    visit = await request.app[VISITS_KEY].visit(
        code=code,
        address=client_address(request.remote, request.headers.get("X-Forwarded-For")),
        user_agent=request.headers.get("User-Agent"),
    )
    if visit is None:
        return web.Response(status=404, text=NOT_FOUND_PAGE, content_type="text/html")
    if isinstance(visit, links.Refused):
        return web.Response(
            status=visit.status,
            headers={"Retry-After": str(visit.retry_after), "Cache-Control": "no-store"},
            text=UNAVAILABLE_PAGE if visit.busy else TOO_MANY_PAGE,
            content_type="text/html",
        )
    return web.Response(
        status=302,
        headers={
            "Location": visit.location,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer-when-downgrade",
        },
        text=f'<a href="{html.escape(visit.location)}">{html.escape(visit.location)}</a>',
        content_type="text/html",
    )


GONE_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>No longer available</title>
<body style="font-family:sans-serif;max-width:32em;margin:4em auto">
<h1>No longer available</h1><p>This post can no longer be shared.</p>
<p lang="fr">Ce contenu ne peut plus être partagé.</p></body></html>"""


async def handle_share_link(request: web.Request) -> web.Response:
    """`/s/<code>`: a member's share link. A person opening it has their share counted once, then goes
    (303) to the network's share page; a HEAD or a link-preview robot goes there uncounted
    (`bot.flows.share_links`). An unknown code is 404, a post that can no longer be shared 410."""
    code = request.match_info["code"]
    if len(code) > 64:
        return web.Response(status=404, text=NOT_FOUND_PAGE, content_type="text/html")
    opened = await request.app[SHARE_LINKS_KEY].open(
        code=code,
        address=client_address(request.remote, request.headers.get("X-Forwarded-For")),
        user_agent=request.headers.get("User-Agent"),
        caption=request.query.get("text"),
        robot=request.method != "GET",
        channel=request.query.get("c"),
    )
    if opened is None:
        return web.Response(status=404, text=NOT_FOUND_PAGE, content_type="text/html")
    if isinstance(opened, links.Refused):
        return web.Response(
            status=opened.status,
            headers={"Retry-After": str(opened.retry_after), "Cache-Control": "no-store"},
            text=UNAVAILABLE_PAGE if opened.busy else TOO_MANY_PAGE,
            content_type="text/html",
        )
    if opened.counted:
        # The member's reminders now say "shared ✓" (`bot.services.shared_marks`).
        _send_soon(request.app, opened.workspace_id)
    if opened.location is None:
        return web.Response(
            status=410, headers={"Cache-Control": "no-store"}, text=GONE_PAGE, content_type="text/html"
        )
    return web.Response(
        status=303,
        headers={"Location": opened.location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        text=f'<a href="{html.escape(opened.location)}">{html.escape(opened.location)}</a>',
        content_type="text/html",
    )


def client_address(remote: str | None, forwarded_for: str | None) -> str | None:
    """The visitor's address. `X-Forwarded-For` is believed only when the peer is a proxy on a private
    or loopback address (a load balancer in front of Relais), and then only its last hop, the one that
    proxy added: anyone can write the earlier ones."""
    if not forwarded_for or remote is None:
        return remote
    try:
        peer = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if not (peer.is_private or peer.is_loopback):
        return remote
    return forwarded_for.split(",")[-1].strip() or remote


def visitor_secret(settings: Settings) -> bytes:
    """The install's part of visitors' keys (`links.day_key`), kept outside the database: a copy of the
    database alone cannot tell which address a key stands for. Without any secret (a local Teams client
    in anonymous mode, say), the database's address stands in, which is no secret (README, Privacy)."""
    for secret in (settings.encryption_key, settings.slack_signing_secret, settings.microsoft_app_password):
        if secret is not None:
            return hashlib.sha256(b"relais-visitor:" + secret.get_secret_value().encode()).digest()
    return hashlib.sha256(b"relais-visitor:" + settings.database_url.encode()).digest()


BACKGROUND_SHUTDOWN_SECONDS = 20.0


async def _services(app: web.Application) -> AsyncIterator[None]:
    deps = app[DEPS_KEY]
    before = asyncio.all_tasks()
    deps.shares.start()
    yield
    await wait_for_background_work(
        before | {t for t in asyncio.all_tasks() if t.get_name() == "relais-share-writer"}
    )
    await deps.shares.stop()
    await deps.fetcher.aclose()
    await app[HTTP_KEY].aclose()


async def wait_for_background_work(
    before: set[asyncio.Task[Any]], seconds: float = BACKGROUND_SHUTDOWN_SECONDS
) -> None:
    """On shutdown, let the work Bolt runs after an ack finish (posting a reply, recording a result)
    rather than cancel it halfway. Tasks that existed before the app started, and aiohttp's own
    connection handlers (a keep-alive connection ends only with its server), are not waited for."""
    started = {
        task
        for task in asyncio.all_tasks() - before - {asyncio.current_task()}
        if getattr(task.get_coro(), "__qualname__", "") != "RequestHandler.start"
    }
    if started:
        await asyncio.wait(started, timeout=seconds)


async def _dispose_engine(app: web.Application) -> None:
    await app[ENGINE_KEY].dispose()
