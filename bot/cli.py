"""The `relais` command: migrate, serve, clock, export, demo, and what the installed platforms add
(`bot.platforms.commands`: `teams-package`).

Every failure the operator can fix (a missing setting, a bad argument, an unmigrated database) is one
line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db, platforms
from bot.config import ConfigError, Settings, configure_logging, load_settings
from bot.logs import redact_secrets
from bot.platforms import PlatformCommand

if TYPE_CHECKING:
    from bot.services.erasure import DeletesFiles

logger = logging.getLogger("relais")

EXIT_USAGE = 2
EXIT_FAILURE = 1
SHUTDOWN_TIMEOUT_SECONDS = 25.0  # Heroku-style platforms kill 30 s after SIGTERM.


class UsageError(Exception):
    """Bad input on the command line or in the environment: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line pointing to --help rather than the whole usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(added: Mapping[str, PlatformCommand] | None = None) -> argparse.ArgumentParser:
    """`added`: the platforms' subcommands (default: those installed)."""
    parser = _Parser(
        prog="relais",
        description="Relais: employee advocacy in Slack and Microsoft Teams.",
        epilog="Settings come from the environment or .env; see the README's Configuration table.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    commands.add_parser(
        "migrate",
        help="bring the database schema up to date",
        description="Apply every pending migration to DATABASE_URL (safe to run on every release).",
    )

    commands.add_parser(
        "serve",
        help="run the web server",
        description=(
            "Serve POST /slack/events (every Slack request) and GET /healthz on PORT. With SLACK_APP_TOKEN "
            "set, also connect to Slack in Socket Mode. SIGTERM finishes in-flight requests, then exits 0."
        ),
    )

    commands.add_parser(
        "clock",
        help="run the scheduler (one process per deployment)",
        description=(
            "Run the scheduled jobs (see `relais jobs list`) at their intervals and once at start. A second "
            "clock waits and takes over if the first one dies. SIGTERM lets running jobs finish."
        ),
    )

    jobs = commands.add_parser(
        "jobs",
        help="list the clock's jobs, or run one now",
        description="List the clock's jobs with their last and next runs, or run one now.",
    )
    job_commands = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", parser_class=_Parser)
    job_commands.required = True
    job_commands.add_parser("list", help="each job, its schedule, its last and next run")
    run = job_commands.add_parser(
        "run",
        help="run one job now (then send what it enqueued)",
        description=(
            "Run one job now, deciding what is due as if the clock read --at (default: now); what it decided "
            "is sent before the command exits (a post due at --at is published now). Reminders are the "
            "exception: they keep to each member's working hours in their round's own week, so a round made "
            "ahead of time waits for its moment (the command says how many wait, and until when). A weekly "
            "job still runs at most once per period: a period already done is not done again."
        ),
    )
    run.add_argument("job", choices=list(JOB_NAMES), help="the job")
    run.add_argument("--at", type=_parse_time, metavar="ISO_TIME", help="e.g. 2026-12-04T16:00:00+01:00")

    export = commands.add_parser(
        "export",
        help="export data as CSV or JSON to stdout",
        description="Write shares, posts, clicks or members to stdout, oldest first, for BI tools.",
    )
    export.add_argument("kind", choices=["shares", "posts", "clicks", "members"], help="what to export")
    export.add_argument(
        "--format", choices=["csv", "json"], default="csv", help="output format (default: csv)"
    )
    export.add_argument(
        "--since",
        type=_parse_date,
        metavar="YYYY-MM-DD",
        help="only rows created on or after this UTC date",
    )
    export.add_argument(
        "--workspace",
        metavar="TEAM_ID",
        help="only this workspace (Slack team id or Teams tenant id); default: every workspace",
    )

    erase = commands.add_parser(
        "erase-member",
        help="erase a member's personal data (GDPR), e.g. someone who left",
        description=(
            "Erase one member's personal data, as their own `/relais forget-me` does: profile, "
            "preferences, connections (tokens revoked where the network allows it), personal links' clicks, "
            "suggestions and messages. Their shares stay as anonymous counts. Prints what was erased "
            "(counts only); exits 1, changing nothing, when no such member is known."
        ),
    )
    erase.add_argument("platform", choices=["slack", "teams"], help="the chat platform")
    erase.add_argument("workspace", help="the Slack team id (T…) or the Teams tenant id")
    erase.add_argument("member", help="the member's Slack user id (U…) or Entra object id (Teams)")

    erase_workspace = commands.add_parser(
        "erase-workspace",
        help="remove every row of a workspace Relais no longer serves (e.g. uninstalled)",
        description=(
            "Remove every row Relais holds for one workspace: members, shares, links and clicks, posts, "
            "suggestions, messages, sessions, connections (tokens revoked where the network allows it) and "
            "its Slack installation; only the bare workspace row (platform and id) stays. Refused, "
            "changing nothing, while the workspace is not marked uninstalled (a Teams tenant never is) "
            "unless --force. Prints what was removed (counts only); exits 1 when the workspace is unknown "
            "or refused. The clock's retention job does the same by itself 30 days after a Slack uninstall."
            " With --force, a Slack workspace that had its own installation (installed through "
            "/slack/install) is marked uninstalled: reinstall Relais to use it again. One served without "
            "(SLACK_BOT_TOKEN, its Enterprise Grid organisation's installation) and a Teams tenant go on "
            "being served: their people start afresh on their next use."
        ),
    )
    erase_workspace.add_argument("platform", choices=["slack", "teams"], help="the chat platform")
    erase_workspace.add_argument("workspace", help="the Slack team id (T…) or the Teams tenant id")
    erase_workspace.add_argument(
        "--force",
        action="store_true",
        help=(
            "remove it even though Relais still serves it: a Slack workspace with its own installation is "
            "then marked uninstalled (reinstall Relais to use it again); otherwise (SLACK_BOT_TOKEN, an "
            "Enterprise Grid organisation's installation, Teams) its people start afresh on their next use"
        ),
    )

    commands.add_parser(
        "demo",
        help="play a short scenario against a local fake Slack: no credentials needed",
        description=(
            "Play a short scenario against a local fake Slack: no credentials needed. The real app, on a "
            "temporary database, answers an admin queueing a post, two employees sharing it and a click on "
            "a tracked link; what each person sees is printed. "
            "Ignores every setting."
        ),
    )
    for name, command in (platforms.commands() if added is None else added).items():
        command.add_arguments(commands.add_parser(name, help=command.help, description=command.description))
    return parser


JOB_NAMES = ("publish", "nudges", "leaderboard", "connection-warnings", "outbox", "dashboard", "retention")


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a time like 2026-12-04T16:00:00+01:00") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-12-01") from None


def main(argv: Sequence[str] | None = None) -> int:
    added = platforms.commands()
    args = build_parser(added).parse_args(argv)
    if args.command == "demo":
        return _demo()
    if args.command in added:  # needs no setting: it runs before they are read
        return added[args.command].run(args)
    try:
        settings = load_settings()
        configure_logging(settings)
        redact_secrets()  # connect-link tokens, OAuth codes and states, whoever logs them (bot/logs.py)
        if args.command == "migrate":
            return _migrate(settings)
        if args.command == "serve":
            return _serve(settings)
        if args.command == "clock":
            return _clock(settings)
        if args.command == "jobs":
            job, at = getattr(args, "job", None), getattr(args, "at", None)
            return asyncio.run(_jobs(settings, args.jobs_command, job, at))
        if args.command == "erase-member":
            return asyncio.run(_erase_member(settings, args.platform, args.workspace, args.member))
        if args.command == "erase-workspace":
            return asyncio.run(_erase_workspace(settings, args.platform, args.workspace, force=args.force))
        return asyncio.run(_export(settings, args.kind, args.format, args.since, args.workspace))
    except (ConfigError, UsageError) as exc:
        print(f"relais: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _demo() -> int:
    """Needs no setting at all: the demo builds its own, so a fresh clone can run it."""
    from bot.demo import run_demo

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(run_demo(sys.stdout))
    except KeyboardInterrupt:
        return 130


def _describe(database_url: str) -> str:
    """The database URL without its password, for messages."""
    return make_url(database_url).render_as_string(hide_password=True)


def _migrate(settings: Settings) -> int:
    from bot import migrate

    try:
        before = asyncio.run(_revision(settings.database_url))
        migrate.upgrade(settings.database_url)
    except Exception as exc:
        logger.debug("migration failed", exc_info=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(
            f"relais: error: migrating {_describe(settings.database_url)} failed: {reason}", file=sys.stderr
        )
        return EXIT_FAILURE
    head = migrate.head_revision()
    done = "was already" if before == head else f"migrated from revision {before or 'none'} to"
    print(f"relais: database {_describe(settings.database_url)} {done} revision {head}")
    return 0


async def _revision(database_url: str) -> str | None:
    from bot import migrate

    engine = db.create_engine(database_url)
    try:
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()


async def _check_schema(settings: Settings) -> None:
    """Refuse to serve an unmigrated database; a database that is down is left to /healthz."""
    from bot import migrate

    engine = db.create_engine(settings.database_url)
    try:
        current = await migrate.current_revision(engine)
    except Exception as exc:
        logger.warning("database unreachable at startup (%s); serving anyway, /healthz reports it", exc)
        return
    finally:
        await engine.dispose()
    head = migrate.head_revision()
    if current != head:
        raise UsageError(
            f"the database {_describe(settings.database_url)} is at revision {current or 'none'}, "
            f"this version needs {head}: run `relais migrate` first"
        )


def _serve(settings: Settings) -> int:
    from bot.web import HEADER_TIMEOUT_SECONDS, LINGER_SECONDS, AccessLogger, create_app

    asyncio.run(_check_schema(settings))
    _raise_open_files_limit()
    app = create_app(settings)
    if not platforms.configured(settings):
        logger.warning(
            "No chat platform is configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (README, "
            "'Create the Slack app') or MICROSOFT_APP_ID and its settings (README, 'Add Relais to "
            "Microsoft Teams')"
        )
    logger.info("Relais listening on port %d (public URL %s)", settings.port, settings.base_url)
    # run_app handles SIGINT/SIGTERM: stop accepting, let in-flight requests finish, run cleanups.
    web.run_app(
        app,
        port=settings.port,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
        print=None,
        access_log=logging.getLogger("relais.access"),
        access_log_class=AccessLogger,
        keepalive_timeout=HEADER_TIMEOUT_SECONDS,
        lingering_time=LINGER_SECONDS,
    )
    logger.info("Relais stopped")
    return 0


def _raise_open_files_limit() -> None:
    """Each open connection holds a file descriptor, and the usual soft limit (1,024) is soon reached by
    slow or idle clients: then even /healthz is no longer accepted. Raise it to the hard limit, as Go's
    runtime does for every program."""
    import resource  # Unix only, as the server is

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 1 << 20 if hard == resource.RLIM_INFINITY else hard  # Linux's own ceiling (nr_open)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        logger.warning("could not raise the open files limit from %d to %d (%s)", soft, target, exc)


async def _jobs(settings: Settings, action: str, name: str | None, at: datetime | None) -> int:
    from bot.clock import FrozenClock
    from scheduler import jobs
    from scheduler.clock import build_context

    await _check_schema(settings)
    if action == "list":
        engine = db.create_engine(settings.database_url)
        try:
            _print_jobs(await jobs.clock_jobs(db.session_factory(engine)), jobs.JOBS)
            await _print_blocked(db.session_factory(engine))
        finally:
            await engine.dispose()
        return 0
    settings.require_social()
    ctx, _, close = build_context(settings, now=FrozenClock(at).now if at is not None else None)
    try:
        assert name is not None
        summary = await jobs.run_job(ctx, name)
        await jobs.drain_all(ctx)  # everything it enqueued goes out before the command exits
        print(f"relais: job {name} done: {summary}")
        return 0
    finally:
        await close()


def _print_jobs(runs: dict[str, Any], table: dict[str, Any]) -> None:
    def when(moment: datetime | None) -> str:
        return moment.isoformat(timespec="seconds") if moment is not None else "-"

    print(f"{'job':<20} {'last run':<26} {'next run':<26} schedule")
    for name, job in table.items():
        run = runs.get(name)
        last = when(run.last_started_at) if run is not None else "-"
        if run is not None and run.last_error:
            last += f" ({run.last_error})"
        following = when(run.next_run_at) if run is not None else "-"
        print(f"{name:<20} {last:<26} {following:<26} {job.schedule}")


async def _print_blocked(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Messages that cannot go out until the operator acts (a dead bot token): said here, since the
    admins cannot be reached through the chat platform."""
    from bot.services import recipients

    async with sessions() as session:
        for blocked in await recipients.blocked_by_credentials(session):
            waiting = f"{blocked.waiting} messages waiting"
            print(f"outbox: workspace {blocked.workspace_id}: {waiting}: {blocked.error}")


def _clock(settings: Settings) -> int:
    from scheduler.clock import run_clock

    platforms.configured(settings)  # a platform configured incompletely is said before anything runs
    asyncio.run(_check_schema(settings))
    asyncio.run(run_clock(settings))
    return 0


async def _open_migrated(settings: Settings) -> AsyncEngine:
    """An engine on DATABASE_URL once the database is known reachable and migrated, for the commands that
    read or change its rows (`erase-member`, `erase-workspace`, `export`); else a `UsageError` (one line,
    exit 2) with nothing left open. The caller disposes of the engine."""
    from bot import migrate

    engine = db.create_engine(settings.database_url)
    try:
        current = await migrate.current_revision(engine)
    except Exception as exc:
        await engine.dispose()
        raise UsageError(
            f"cannot reach the database {_describe(settings.database_url)}: {type(exc).__name__}"
        ) from None
    if current != migrate.head_revision():
        await engine.dispose()
        raise UsageError(
            f"the database {_describe(settings.database_url)} is not migrated: run `relais migrate`"
        )
    return engine


def _file_deleter(
    settings: Settings, sessions: db.Sessions, platform: str, *, warn: bool = True
) -> DeletesFiles | None:
    """What deletes the files Relais sent the member (`bot.services.erasure.DeletesFiles`): the platform's
    notifier where it can (Slack), with each workspace's credentials; None when the settings do not
    configure the platform (nothing can be deleted there: said on stderr, unless not `warn`: no file is
    known yet) or it sends no files."""
    from bot.clock import SystemClock
    from bot.services.erasure import DeletesFiles

    for chosen in platforms.installed():
        if chosen.name == platform and chosen.configured(settings):
            chosen.require(settings)
            notifier = chosen.notifier(settings, sessions, SystemClock())
            return notifier if isinstance(notifier, DeletesFiles) else None
    if warn:
        print(
            f"relais: {platform} is not configured: files Relais sent the member there cannot be deleted",
            file=sys.stderr,
        )
    return None


async def _erase_member(settings: Settings, platform: str, workspace: str, member: str) -> int:
    """`relais erase-member`: the same erasure as `/relais forget-me` (`bot.services.erasure`)."""
    from bot.services import erasure
    from bot.services.members import find_workspace

    engine = await _open_migrated(settings)
    http = platforms.new_http_client()
    try:
        sessions = db.session_factory(engine)
        async with sessions() as session:
            known = await find_workspace(session, platform=platform, external_id=workspace)
            target = await erasure.find_target(session, platform=platform, workspace=workspace, member=member)
            elsewhere = await erasure.same_person_elsewhere(session, target) if target is not None else []
        if known is None:
            print(
                f"relais: no {platform} workspace {workspace} is known; nothing was changed", file=sys.stderr
            )
            return 1
        if target is None:
            print(
                f"relais: no member {member} in {platform} workspace {workspace} (unknown, or erased "
                "already); nothing was changed",
                file=sys.stderr,
            )
            return 1
        erased = await erasure.erase_member(
            sessions,
            target,
            cipher=settings.fernet if settings.encryption_key is not None else None,
            clients=platforms.social_clients(settings, http),
            now=datetime.now(UTC),
            # Always: a file `/relais mydata` sends between this read and the erasure's claim is deleted
            # right after its commit (`Erased.late`), not left to the clock.
            files=_file_deleter(settings, sessions, platform, warn=bool(target.files)),
        )
        if erased is None:
            print(f"relais: member {member} was erased meanwhile; nothing more was changed", file=sys.stderr)
            return 1
        print(f"erased member {member} of {platform} workspace {workspace}; what was erased or kept:")
        for line in erased.lines():
            print(f"  {line}")
        for other in elsewhere:  # the same person in the other workspaces of their Enterprise Grid org
            also = await erasure.erase_member(
                sessions,
                other,
                cipher=settings.fernet if settings.encryption_key is not None else None,
                clients=platforms.social_clients(settings, http),
                now=datetime.now(UTC),
                files=_file_deleter(settings, sessions, platform, warn=bool(other.files)),
            )
            if also is not None:
                print(f"erased them too in their Enterprise Grid org's workspace #{other.workspace_id}:")
                for line in also.lines():
                    print(f"  {line}")
    finally:
        await http.aclose()
        await engine.dispose()
    return 0


async def _erase_workspace(settings: Settings, platform: str, workspace: str, *, force: bool) -> int:
    """`relais erase-workspace`: every row of the workspace removed (`bot.services.workspace_erasure`),
    refused while Relais still serves it, unless `force`."""
    from bot.services import workspace_erasure
    from bot.services.members import find_workspace

    engine = await _open_migrated(settings)
    http = platforms.new_http_client()
    try:
        sessions = db.session_factory(engine)
        async with sessions() as session:
            found = await find_workspace(session, platform=platform, external_id=workspace)
            files = found is not None and await workspace_erasure.has_files(session, found.id)
        if found is None:
            print(
                f"relais: no {platform} workspace {workspace} is known; nothing was changed", file=sys.stderr
            )
            return 1
        served = found.uninstalled_at is None
        if served and not force:
            print(
                f"relais: {platform} workspace {workspace} is not marked uninstalled, so Relais still serves "
                f"it{' (a Teams tenant never is)' if platform == 'teams' else ''}: uninstall Relais there "
                "first, or add --force; nothing was changed",
                file=sys.stderr,
            )
            return 1
        done = await workspace_erasure.erase_workspace(
            sessions,
            found.id,
            tokens=workspace_erasure.Tokens(
                settings.fernet if settings.encryption_key is not None else None,
                platforms.social_clients(settings, http),
            ),
            condition=None if force else workspace_erasure.uninstalled(found.id),
            now=datetime.now(UTC),
            # The files Relais sent members: deleted at the platform with the workspace's own token, which
            # an uninstalled workspace no longer has.
            files=_file_deleter(settings, sessions, platform) if served and files else None,
        )
    finally:
        await http.aclose()
        await engine.dispose()
    if done.complete and not done.total:
        print(f"{platform} workspace {workspace} held nothing more: nothing was removed")
        return 0
    print(f"removed {platform} workspace {workspace}; rows removed by table:")
    for line in done.lines():
        print(f"  {line}")
    if not done.complete:
        print(
            f"relais: {platform} workspace {workspace} was installed again meanwhile: it was stopped there, "
            "and what it still holds is kept",
            file=sys.stderr,
        )
        return 1
    if done.uninstalled:
        print(
            f"{platform} workspace {workspace} lost its installation and is now marked uninstalled: "
            "reinstall Relais to use it again"
        )
    elif served:
        print(
            f"Relais still serves {platform} workspace {workspace}: its people start afresh on their next use"
        )
    return 0


async def _export(settings: Settings, kind: str, fmt: str, since: date | None, workspace: str | None) -> int:
    from bot.services.export import ExportKind, export_rows, write_csv, write_json

    engine = await _open_migrated(settings)
    try:
        async with db.session_factory(engine)() as session:
            rows = export_rows(session=session, kind=ExportKind(kind), since=since, workspace=workspace)
            if fmt == "json":
                await write_json(rows, sys.stdout)
            else:
                await write_csv(rows, sys.stdout, ExportKind(kind))
    finally:
        await engine.dispose()
    sys.stdout.flush()
    return 0
