"""The outbox: every outbound chat message is a row first, then sent by a drainer.

A crash between deciding to send and sending loses nothing (the row is still pending), and a
message is never enqueued twice (`dedupe_key`). `drain` claims due rows, sends each through the
`Notifier` of its workspace's platform (paced by that notifier's `RatePolicy`), and records the outcome;
a `after_send` hook lets the domain react (a channel push becomes a `Delivery`). A row's `destination` is
the platform's own id of a member or a channel, which the notifier resolves (`bot.notifier`).

Two paces hold across every drainer of every process, both kept in the `outbox_pacing` table: each
destination's (`take_slot`, by the notifier's `RatePolicy`, on the drainer's clock), and, for a platform
that also limits all of an app's requests in a workspace (Teams: 50 a second per app per tenant), the
workspace's (`WorkspacePace`, which the notifier asks before each of its requests, on the real clock).
A failed message comes back after the platform's Retry-After or the backoff, stretched by a random
jitter so that messages that failed together do not all come back at the same instant (`record`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import insert_ignoring_conflicts
from bot.notifier import RATE_LIMITED, TRANSIENT, Delivered, FindsDelivered, Notifier, RatePolicy
from models import OutboxMessage, OutboxState, Workspace
from models.outbox import OutboxPacing

logger = logging.getLogger(__name__)

# Rows that are work rather than chat messages (an API post naming its share), run by their own
# drainer (`bot.services.posting.Poster`); the chat drain never takes them.
SOCIAL_POST_KIND: Final = "social_post"
NOT_CHAT_KINDS: Final = frozenset({SOCIAL_POST_KIND})

MAX_ATTEMPTS: Final = 5
STALE_SENDING: Final = timedelta(minutes=5)
# The `last_error` of a message `recover_stale` gave back: its last send's outcome is unknown.
INTERRUPTED: Final = "interrupted"
# Messages reach the platform a little after the drainer decided to send them, and not all equally late:
# a slot is taken this much after the time it frees up (`take_slot`), so the platform's bucket has refilled
# when the message arrives, even if it arrives sooner after the earlier ones than their slots were apart.
JITTER: Final = timedelta(milliseconds=250)
BACKOFF_SECONDS: Final = (5, 30, 120, 600, 1800)
# A failed message waits its delay (the platform's Retry-After, else the backoff) times a factor drawn in
# [1, 1 + BACKOFF_SPREAD): never sooner than the platform asked, and messages that failed together (an
# outage, a burst of 429s) come back spread over a quarter of their delay rather than all at once.
BACKOFF_SPREAD: Final = 0.25
SLOT_ATTEMPTS: Final = 5
# A drainer with nothing due looks again this often: another process (the web one) may have enqueued.
IDLE_SECONDS: Final = 5.0
# ... and with something due that it could not take (another drainer's), waits this little.
MIN_WAIT_SECONDS: Final = 0.02
# While a drain's lanes run, it looks this often for workspaces newly due, each given its turn
# (`_in_lanes`).
LOOK_AGAIN_SECONDS: Final = 1.0
# A lane sends at most this many messages a turn, then gives its place to the next workspace waiting: a
# second's worth at Slack's default workspace cap (SLACK_MESSAGES_PER_MINUTE=600). A channel push newly
# due waits at most one turn of each workspace ahead of it, never a whole round.
TURN: Final = 10
# How many lanes run at once when the database's pool does not say (`lanes_for`): SQLAlchemy's default
# pool size.
LANES: Final = 5
# The `outbox_pacing` key of a workspace's own pace (`WorkspacePace`): no platform id is "*" (Slack's are
# letters and digits, Teams' `19:…`, `29:…`, `a:…` or an Entra object id).
WORKSPACE_KEY: Final = "*"

# A draw in [0, 1) for each retry's jitter (`random.random`; tests give a fixed sequence).
Jitter = Callable[[], float]

# Called in the transaction that records a send, with the time the drainer's clock read for it (never a
# database stamp: every time a decision uses comes from the injected clock).
AfterSend = Callable[[AsyncSession, OutboxMessage, Delivered, datetime], Awaitable[None]]
# Asked just before sending: True sends, False drops the message (a nudge to someone who opted out
# since), a time puts it back until then (a nudge that would arrive in the evening).
BeforeSend = Callable[[AsyncSession, OutboxMessage, datetime], Awaitable[bool | datetime]]


async def enqueue(
    session: AsyncSession,
    *,
    workspace_id: int,
    kind: str,
    destination: str,
    payload: dict[str, Any],
    now: datetime,
    dedupe_key: str | None = None,
    round_key: str | None = None,
) -> None:
    """Add a message to send (nothing happens if `dedupe_key` was already used in this workspace);
    `round_key` names the round it belongs to (`bot.services.progress`)."""
    await enqueue_many(
        session,
        workspace_id=workspace_id,
        kind=kind,
        messages=[(destination, payload, dedupe_key)],
        now=now,
        round_key=round_key,
    )


async def enqueue_many(
    session: AsyncSession,
    *,
    workspace_id: int,
    kind: str,
    messages: Collection[tuple[str, dict[str, Any], str | None]],
    now: datetime,
    round_key: str | None = None,
) -> None:
    """`enqueue` for many messages of one kind, each (destination, payload, dedupe key), as one
    executemany (one statement compiled once, sent in batches): a round of 50,000 private messages
    costs no 50,000 statements."""
    rows = [
        {
            "workspace_id": workspace_id,
            "kind": kind,
            "destination": destination,
            "payload": payload,
            "dedupe_key": dedupe_key,
            "round_key": round_key,
            "state": OutboxState.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for destination, payload, dedupe_key in messages
    ]
    if rows:
        await session.execute(insert_ignoring_conflicts(session, OutboxMessage.__table__, None), rows)


async def cancel_pending(session: AsyncSession, *, workspace_id: int, dedupe_prefix: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.workspace_id == workspace_id,
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.dedupe_key.startswith(dedupe_prefix, autoescape=True),
        )
        .values(state=OutboxState.CANCELLED)
    )


Notifiers = Mapping[str, Notifier]  # by platform name (`Workspace.platform`)


async def destinations_of(session: AsyncSession, *, workspace_id: int, member: str) -> set[str]:
    """Every destination that is `member`'s alone: their id, and the private chats the platform said
    their messages landed in (`Delivered.channel`, kept in `result`: Slack's DM `D…`), where edits of
    those messages are addressed (`bot.services.shared_marks`)."""
    results = await session.scalars(
        select(OutboxMessage.result).where(
            OutboxMessage.workspace_id == workspace_id,
            OutboxMessage.destination == member,
            OutboxMessage.result.is_not(None),
        )
    )
    landed = {
        str(result["channel"]) for result in results if isinstance(result, dict) and result.get("channel")
    }
    return {member, *landed}


async def drain(
    sessions: async_sessionmaker[AsyncSession],
    *,
    notifiers: Notifiers,
    now: Callable[[], datetime],
    after_send: AfterSend | None = None,
    before_send: BeforeSend | None = None,
    limit: int = 200,
    skip_kinds: Collection[str] = NOT_CHAT_KINDS,
    jitter: Jitter = random.random,
    stop: asyncio.Event | None = None,
    workspaces: Collection[int] | None = None,
    lanes: int | None = None,
) -> int:
    """Send every due pending chat message (up to `limit` per workspace): every kind but `skip_kinds` (by
    default the work rows that are not chat messages); returns how many were sent. Each goes through the
    notifier of its workspace's platform; the rows of a platform without one here are left waiting (a
    process that serves only Slack never takes a Teams workspace's messages). `workspaces`: only these
    (a request's drain sends what it enqueued, in its own workspace; the clock drains them all).

    Workspaces are drained in lanes (`_in_lanes`), `lanes` at once (by default `lanes_for` the
    database's pool), taking turns of `TURN` messages: one workspace's big round never holds another's
    channel push behind it for more than a turn of each workspace waiting, nor behind its own pace (a
    workspace-wide cap is waited for by sleeping, in its lane only). Within a workspace, messages go
    oldest due first.

    Each row is claimed (pending → sending) in its own short transaction before the network call, so
    two drainers never send the same row; on PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED`. Each
    send then takes a slot for its destination (`take_slot`), shared through the database with every
    other drainer; a message with no free slot is given back, due when one frees up. A failed one is
    retried later (`record`, its delay stretched by a draw of `jitter`). Once `stop` is set, no further
    message is claimed (the one being sent is finished and recorded).
    """
    served = served_platforms(notifiers)
    if not served:
        return 0
    await recover_stale(sessions, now(), skip_kinds=skip_kinds)
    platform_of: dict[int, str] = {}

    async def send_one(message: OutboxMessage) -> bool:
        if before_send is not None and not await _still_wanted(sessions, message, before_send, now()):
            return False
        notifier = notifiers[await _platform(sessions, message.workspace_id, platform_of)]
        wait_until = await take_slot(
            sessions,
            workspace_id=message.workspace_id,
            destination=message.destination,
            now=now(),
            policy=notifier.rate,
        )
        if wait_until is not None:
            # The platform takes only so many messages per destination (Slack: about one a second per
            # channel, in short bursts): this one waits.
            await _defer(sessions, message, wait_until, now())
            return False
        outcome = await _delivered_before(notifier, message) if message.last_error == INTERRUPTED else None
        if outcome is not None and not outcome.ok:
            # The platform cannot be asked yet (Slack: one look at a history a minute): ask again later,
            # still interrupted, rather than send what may be there already.
            await _defer(sessions, message, now() + timedelta(seconds=outcome.retry_after or 60), now())
            return False
        if outcome is None:
            try:
                outcome = await notifier.send(
                    kind=message.kind,
                    destination=message.destination,
                    payload=message.payload,
                    workspace_id=message.workspace_id,
                )
            except Exception as exc:
                logger.exception("sending outbox message %s failed", message.id)
                outcome = Delivered(ok=False, error=TRANSIENT, detail=type(exc).__name__)
        async with sessions() as session:
            row = await session.get_one(OutboxMessage, message.id)
            recorded_at = now()
            record(row, outcome, recorded_at, jitter=jitter)
            if after_send is not None:
                await after_send(session, row, outcome, recorded_at)
            await session.commit()
        return outcome.ok

    async def turn(workspace_id: int, most: int) -> Turn:
        claimed = sent = 0
        while claimed < most and (stop is None or not stop.is_set()):
            message = await claim_next(
                sessions, now(), skip_kinds=skip_kinds, platforms=served, workspace_id=workspace_id
            )
            claimed += 1
            if message is None:
                return Turn(claimed, sent, more=False)
            sent += await send_one(message)
        return Turn(claimed, sent, more=claimed >= most)

    return await _in_lanes(
        turn,
        sessions,
        now=now,
        skip_kinds=skip_kinds,
        platforms=served,
        workspaces=workspaces,
        stop=stop,
        lanes=lanes if lanes is not None else lanes_for(sessions),
        limit=limit,
    )


@dataclass(frozen=True)
class Turn:
    """What a lane did in one turn for a workspace: claims tried (each counts against the pass's `limit`,
    a claim that found nothing too), messages sent, and whether it stopped with messages maybe left."""

    claimed: int
    sent: int
    more: bool


def lanes_for(sessions: async_sessionmaker[AsyncSession]) -> int:
    """How many lanes a drain runs at once: the size of the database pool (its steady connections; the
    pool's overflow stays for the requests of a web process and the drain's own looks). A lane holds a
    connection only for its short transactions, never across a send, so lanes never wait for one
    another's connections; unbounded, 2,000 workspaces due started 2,000 lanes queueing for 15
    connections (and timing out after 30 s). A pool of no fixed size (SQLite in memory, NullPool):
    `LANES`."""
    bind = sessions.kw.get("bind")
    pool = getattr(getattr(bind, "sync_engine", bind), "pool", None)
    size = getattr(pool, "size", None)
    return max(int(size()), 1) if callable(size) else LANES


async def _in_lanes(
    turn: Callable[[int, int], Coroutine[Any, Any, Turn]],
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: Callable[[], datetime],
    skip_kinds: Collection[str],
    platforms: Collection[str],
    workspaces: Collection[int] | None,
    stop: asyncio.Event | None,
    lanes: int,
    limit: int,
) -> int:
    """Run `turn` for the workspaces with messages due, at most `lanes` at once, round-robin: each turn
    sends up to `TURN` messages of one workspace, which then goes to the back of the line if it has more,
    so a round of thousands is interleaved with every other workspace's pushes instead of holding a lane
    to its end. A workspace tries at most `limit` claims a pass (what it has beyond waits for the next).
    While turns run, it looks again every `LOOK_AGAIN_SECONDS` (and whenever the line is empty) for
    workspaces newly due, which join the back of the line: a channel push waits no longer than one turn
    of each workspace ahead of it. Returns how many were sent; the pass ends when the line is empty and
    no turn runs. A turn that fails leaves the others running and is raised at the end."""
    line: deque[int] = deque()
    running: dict[asyncio.Task[Turn], int] = {}
    spent: dict[int, int] = {}
    sent = 0
    failure: BaseException | None = None
    looking, looked_at = True, -math.inf
    loop = asyncio.get_running_loop()

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    try:
        while True:
            idle = not line and len(running) < lanes
            looked = looking and not stopped() and (idle or loop.time() - looked_at >= LOOK_AGAIN_SECONDS)
            if looked:
                looked_at = loop.time()
                try:
                    due = await due_workspaces(
                        sessions, now(), skip_kinds=skip_kinds, platforms=platforms, workspaces=workspaces
                    )
                except Exception:
                    if not running:
                        raise
                    # The turns running finish their sends (a send cut short would be sent again later).
                    logger.exception("looking for workspaces with messages due failed; not looking again")
                    looking, due = False, []
                waiting = set(line) | set(running.values())
                for workspace_id in due:
                    if workspace_id not in waiting and spent.get(workspace_id, 0) < limit:
                        line.append(workspace_id)
            while line and len(running) < lanes and not stopped():
                workspace_id = line.popleft()
                most = min(TURN, limit - spent.get(workspace_id, 0))
                running[asyncio.create_task(turn(workspace_id, most))] = workspace_id
            if not running:
                if looked or not looking or stopped():
                    break
                continue  # nothing runs: one more look, for what came due during the last turns
            timeout = max(LOOK_AGAIN_SECONDS - (loop.time() - looked_at), MIN_WAIT_SECONDS)
            done, _ = await asyncio.wait(running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                workspace_id = running.pop(task)
                try:
                    took = task.result()
                except Exception as exc:
                    failure = failure or exc
                    spent[workspace_id] = limit  # not again in this pass
                    continue
                sent += took.sent
                spent[workspace_id] = spent.get(workspace_id, 0) + took.claimed
                if took.more and spent[workspace_id] < limit:
                    line.append(workspace_id)  # the back of the line: every other waiting goes first
    finally:
        for task in running:
            task.cancel()  # only those still running (cancelled with the drain itself)
    if failure is not None:
        raise failure
    return sent


async def due_workspaces(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    skip_kinds: Collection[str],
    platforms: Collection[str],
    workspaces: Collection[int] | None = None,
) -> list[int]:
    """The workspaces (of `platforms`, and among `workspaces` if given) with a pending chat message due
    at `now`."""
    query = select(OutboxMessage.workspace_id).where(
        OutboxMessage.state == OutboxState.PENDING,
        OutboxMessage.next_attempt_at <= now,
        OutboxMessage.kind.not_in(skip_kinds),
        of_platforms(platforms),
    )
    if workspaces is not None:
        query = query.where(OutboxMessage.workspace_id.in_(list(workspaces)))
    async with sessions() as session:
        found = await session.scalars(query.distinct().order_by(OutboxMessage.workspace_id))
        return list(found.all())


async def keep_draining(
    drain_once: Callable[[], Awaitable[int]],
    sessions: async_sessionmaker[AsyncSession],
    *,
    platforms: Collection[str],
    now: Callable[[], datetime],
    stop: asyncio.Event,
    idle: float = IDLE_SECONDS,
) -> None:
    """Drain (`drain_once`: a pass of `drain`, which must stop claiming once `stop` is set) until `stop`:
    pass after pass while messages are due, then sleep until the next one is due, or `idle` seconds at
    most (another process may have enqueued some). A pass that fails is logged and tried again.

    A drain run only by the clock's jobs took 200 messages a pass, once a minute: a round of thousands
    went out at 200 a minute, a fifth of what Slack allows (tests/benchmarks/bench_fanout.py). Every
    `relais clock` runs this, its leader and its standbys alike: claims and paces are shared through the
    database, so two clocks are two drainers."""
    while not stop.is_set():
        try:
            await drain_once()
            due = await next_due(sessions, platforms=platforms)
        except Exception:
            logger.exception("draining the outbox failed; trying again")
            due = None
        wait = idle if due is None else min(max((due - now()).total_seconds(), MIN_WAIT_SECONDS), idle)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)


async def next_due(
    sessions: async_sessionmaker[AsyncSession],
    *,
    platforms: Collection[str],
    skip_kinds: Collection[str] = NOT_CHAT_KINDS,
) -> datetime | None:
    """When the next pending chat message of `platforms` is due (None: there is none)."""
    async with sessions() as session:
        due: datetime | None = await session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.state == OutboxState.PENDING,
                OutboxMessage.kind.not_in(skip_kinds),
                of_platforms(platforms),
            )
        )
    return due


async def _delivered_before(notifier: Notifier, message: OutboxMessage) -> Delivered | None:
    """What the platform already has of a message whose last send was interrupted, if its notifier can
    tell (`FindsDelivered`); None: send it (again)."""
    if not isinstance(notifier, FindsDelivered):
        return None
    try:
        found = await notifier.find_delivered(
            kind=message.kind,
            destination=message.destination,
            payload=message.payload,
            workspace_id=message.workspace_id,
        )
    except Exception:
        logger.exception(
            "could not tell whether outbox message %s was delivered; sending it again", message.id
        )
        return None
    if found is not None and found.ok:
        logger.warning("outbox message %s was delivered before its send was interrupted", message.id)
    return found


def served_platforms(notifiers: Notifiers) -> list[str]:
    """The platforms `notifiers` serve (any adapter's name: a workspace's platform is an open string)."""
    return sorted(notifiers)


def of_platforms(platforms: Collection[str], *, workspace_id: int | None = None) -> Any:
    """A condition on outbox rows: their workspace is on one of `platforms`, and the app is still
    installed there (an uninstalled Slack workspace's messages wait for a reinstall). With
    `workspace_id`, the rows asked for are that workspace's, and only its row is looked at."""
    installed = (Workspace.platform.in_(platforms)) & Workspace.uninstalled_at.is_(None)
    if workspace_id is not None:
        return exists().where(Workspace.id == workspace_id, installed)
    return OutboxMessage.workspace_id.in_(select(Workspace.id).where(installed))


async def _platform(
    sessions: async_sessionmaker[AsyncSession], workspace_id: int, known: dict[int, str]
) -> str:
    if workspace_id not in known:
        async with sessions() as session:
            known[workspace_id] = str(
                await session.scalar(select(Workspace.platform).where(Workspace.id == workspace_id))
            )
    return known[workspace_id]


async def take_slot(
    sessions: async_sessionmaker[AsyncSession],
    *,
    workspace_id: int,
    destination: str,
    now: datetime,
    policy: RatePolicy,
    margin: timedelta = JITTER,
) -> datetime | None:
    """Take a sending slot for `destination` at `now`: None if taken (send now), else the time one
    frees up. About one message per `policy.interval` to one destination, in bursts of up to
    `policy.burst`, counted across every drainer of every process.

    The generic cell rate algorithm (a token bucket kept as one timestamp): each send moves the
    destination's `next_slot_ms` one interval past max(itself, now); a send is allowed while that stays
    within `burst - 1` intervals of now, less `margin`. The margin is for the time a message takes to
    reach the platform, which differs from one message to the next: a message sent the instant its slot
    frees up may reach the platform sooner after the earlier ones than their slots were apart, and be
    refused (the platform's bucket counts from when they reached it). So the last message of a burst goes
    `margin` after the others, and a slot freed by time is taken `margin` after it frees up. The row is
    updated by compare-and-set, so two drainers never take the same slot, on SQLite and PostgreSQL
    alike; each attempt is one short transaction."""
    interval = int(policy.interval / timedelta(milliseconds=1))
    tolerance = (policy.burst - 1) * interval
    # Never more than the burst allows: a margin beyond it would slow every message, not just a burst's.
    tolerance -= min(int(margin / timedelta(milliseconds=1)), tolerance)
    at = int(now.timestamp() * 1000)
    key = (OutboxPacing.workspace_id == workspace_id) & (OutboxPacing.destination == destination)
    for _ in range(SLOT_ATTEMPTS):
        async with sessions() as session:
            current = await session.scalar(select(OutboxPacing.next_slot_ms).where(key))
            if current is None:
                row = {
                    "workspace_id": workspace_id,
                    "destination": destination,
                    "next_slot_ms": at + interval,
                }
                taken = await session.execute(
                    insert_ignoring_conflicts(session, OutboxPacing.__table__, [row])
                )
            else:
                if current - at > tolerance:
                    return datetime.fromtimestamp((current - tolerance) / 1000, tz=UTC)
                taken = await session.execute(
                    update(OutboxPacing)
                    .where(key, OutboxPacing.next_slot_ms == current)
                    .values(next_slot_ms=max(current, at) + interval)
                )
            await session.commit()
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return None
    # Many drainers racing for one destination: this one tries again in a moment.
    return now + policy.interval


class WorkspacePace:
    """The pace of all of an app's requests in one workspace, for a platform that limits them as a whole
    (Teams: 50 a second per app per tenant): `wait` returns when the caller may make one request,
    counted across every drainer of every process through `take_slot` under `WORKSPACE_KEY`.

    A notifier asks before each of its requests, not the drain before each message, because only the
    notifier knows how many a message takes (Teams: one more to open a member's 1:1 chat, the first
    time) and because messages are also sent outside the drain (`bot.services.progress`'s edits).

    Its time is the real clock (`clock`, epoch seconds), not the drainer's injected one: the limit is on
    requests per real second, a wait is a fraction of a second, and it is waited by sleeping, which an
    injected clock (frozen in tests, or `relais jobs run --at`'s time) would never see pass. Its rows are
    its own (`WORKSPACE_KEY`): no decision mixes its time with the drainer's.

    `margin` is `take_slot`'s: for a platform that counts from when requests reach it (Slack: a token
    bucket), `JITTER`; the default, a millisecond, only rounds."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        policy: RatePolicy,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        margin: timedelta = timedelta(milliseconds=1),  # slots are kept in whole milliseconds
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._margin = margin

    async def wait(self, workspace_id: int) -> None:
        while True:
            now = datetime.fromtimestamp(self._clock(), tz=UTC)
            free = await take_slot(
                self._sessions,
                workspace_id=workspace_id,
                destination=WORKSPACE_KEY,
                now=now,
                policy=self._policy,
                margin=self._margin,
            )
            if free is None:
                return
            await self._sleep(max((free - now).total_seconds(), 0.001))


async def recover_stale(
    sessions: async_sessionmaker[AsyncSession], now: datetime, *, skip_kinds: Collection[str] = NOT_CHAT_KINDS
) -> int:
    """Chat messages left `sending` by a drainer that died are sent again. A send takes seconds, so a
    row still `sending` after `STALE_SENDING` was interrupted: mostly before the platform received it,
    but a death between the platform's answer and our record leaves a message delivered and not marked.
    So each is marked `INTERRUPTED`, and before sending it again `drain` asks its notifier whether the
    platform has it (`FindsDelivered`: Slack); a platform that cannot tell gets it again (at least once)."""
    async with sessions() as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.state == OutboxState.SENDING,
                OutboxMessage.updated_at < now - STALE_SENDING,
                OutboxMessage.kind.not_in(skip_kinds),
            )
            .values(state=OutboxState.PENDING, next_attempt_at=now, updated_at=now, last_error=INTERRUPTED)
        )
        await session.commit()
    recovered = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if recovered:
        logger.warning("%d outbox messages were interrupted while sending; sending them again", recovered)
    return recovered


async def _defer(
    sessions: async_sessionmaker[AsyncSession], message: OutboxMessage, until: datetime, now: datetime
) -> None:
    """Give a claimed message back, due at `until` (its attempt is not counted)."""
    async with sessions() as session:
        row = await session.get_one(OutboxMessage, message.id)
        row.state, row.next_attempt_at, row.updated_at = OutboxState.PENDING, until, now
        row.attempts = max(row.attempts - 1, 0)
        await session.commit()


async def _still_wanted(
    sessions: async_sessionmaker[AsyncSession], message: OutboxMessage, before_send: BeforeSend, now: datetime
) -> bool:
    async with sessions() as session:
        verdict = await before_send(session, message, now)
        if verdict is True:
            return True
        row = await session.get_one(OutboxMessage, message.id)
        if verdict is False:
            row.state, row.last_error, row.updated_at = OutboxState.CANCELLED, "no longer wanted", now
        else:
            row.state, row.next_attempt_at, row.updated_at = OutboxState.PENDING, verdict, now
            row.attempts = max(row.attempts - 1, 0)
        await session.commit()
        return False


async def claim_next(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    kinds: Collection[str] = (),
    skip_kinds: Collection[str] = (),
    message_id: int | None = None,
    platforms: Collection[str] | None = None,
    workspace_id: int | None = None,
) -> OutboxMessage | None:
    """Claim the next due pending message (of `kinds` if given, not of `skip_kinds`, of a workspace on
    one of `platforms` if given, of `workspace_id` if given; or exactly `message_id`, due or not): it
    moves to `sending` and its attempts count up. None if there is none or another drainer took it
    first."""
    async with sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.state == OutboxState.PENDING)
        if message_id is not None:
            query = query.where(OutboxMessage.id == message_id)
        else:
            query = query.where(OutboxMessage.next_attempt_at <= now)
        if kinds:
            query = query.where(OutboxMessage.kind.in_(kinds))
        if skip_kinds:
            query = query.where(OutboxMessage.kind.not_in(skip_kinds))
        if workspace_id is not None:
            # One workspace's (a drain lane's): its platform and installation asked of its own row, so
            # that the claim walks that workspace's due messages only (their index), not every one's.
            query = query.where(OutboxMessage.workspace_id == workspace_id)
            if platforms is not None:
                query = query.where(of_platforms(platforms, workspace_id=workspace_id))
        elif platforms is not None:
            query = query.where(of_platforms(platforms))
        query = query.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        message = await session.scalar(query)
        if message is None:
            return None
        claimed = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.state == OutboxState.PENDING)
            .values(state=OutboxState.SENDING, attempts=OutboxMessage.attempts + 1, updated_at=now)
        )
        await session.commit()
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None  # another drainer took it first
        return message


def record(row: OutboxMessage, outcome: Delivered, now: datetime, *, jitter: Jitter = random.random) -> None:
    """Write a send's outcome on its row: sent, failed for good, or pending again after a delay: the
    platform's Retry-After, else the backoff for this attempt, times 1 + `BACKOFF_SPREAD` × a draw of
    `jitter` (so never sooner than the platform asked). Being rate limited is no attempt."""
    row.updated_at = now
    if outcome.ok:
        row.state = OutboxState.SENT
        row.sent_at = now
        row.result = {"message_id": outcome.message_id, "channel": outcome.channel}
        row.last_error = None
        return
    row.last_error = outcome.reason
    if outcome.error == RATE_LIMITED:
        # Not the message's failure: the platform asked to wait (Slack's random 429s, a busy workspace).
        # It uses up no attempt, so that no message is ever given up for having been asked to wait.
        row.attempts = max(row.attempts - 1, 0)
    elif outcome.permanent or row.attempts >= MAX_ATTEMPTS:
        row.state = OutboxState.FAILED
        return
    delay = outcome.retry_after or BACKOFF_SECONDS[min(max(row.attempts, 1), len(BACKOFF_SECONDS)) - 1]
    delay *= 1 + BACKOFF_SPREAD * min(max(jitter(), 0.0), 1.0)
    row.state = OutboxState.PENDING
    row.next_attempt_at = now + timedelta(seconds=delay)
