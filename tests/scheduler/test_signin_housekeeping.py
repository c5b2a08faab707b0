"""The hourly housekeeping (`relais jobs run connection-warnings`) forgets ended browser sessions and
sign-ins that can no longer finish, and keeps the live ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot import db
from bot.demo.fake_slack import FakeSlack
from models import SignInAttempt, WebSession
from tests.scheduler.test_jobs_cli import _env, _relais
from tests.scheduler.test_weekly import _member, _workspace


async def test_housekeeping_forgets_ended_sessions_and_dead_sign_ins(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    env = _env(empty_database_url, fake_slack)
    assert (await _relais("migrate", **env))[0] == 0
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)  # the job runs `--at` then
    try:
        async with sessions() as session:
            workspace = await _workspace(session)
            member = _member(workspace, "UANA")
            session.add(member)
            await session.flush()

            def web_session(name: str, *, started: timedelta, seen: timedelta) -> WebSession:
                return WebSession(
                    workspace_id=workspace.id,
                    member_id=member.id,
                    token_hash=name.ljust(64, "0"),
                    csrf_token=name,
                    created_at=at - started,
                    expires_at=at - started + timedelta(hours=12),
                    last_seen=at - seen,
                )

            def attempt(name: str, *, started: timedelta) -> SignInAttempt:
                return SignInAttempt(
                    provider="slack",
                    state_hash=name.ljust(64, "0"),
                    nonce=name,
                    code_verifier=name,
                    next_path="/me",
                    created_at=at - started,
                    expires_at=at - started + timedelta(minutes=10),
                )

            session.add_all(
                [
                    web_session("live", started=timedelta(hours=3), seen=timedelta(minutes=5)),
                    web_session("idle", started=timedelta(hours=3), seen=timedelta(hours=2, minutes=1)),
                    web_session("ended", started=timedelta(hours=12, minutes=1), seen=timedelta(minutes=1)),
                    attempt("going", started=timedelta(minutes=2)),
                    attempt("dead", started=timedelta(minutes=11)),
                ]
            )
            await session.commit()
        code, _, err = await _relais("jobs", "run", "connection-warnings", "--at", at.isoformat(), **env)
        assert code == 0, err
        async with sessions() as session:
            assert (await session.scalars(select(WebSession.csrf_token))).all() == ["live"]
            assert (await session.scalars(select(SignInAttempt.nonce))).all() == ["going"]
    finally:
        await engine.dispose()
