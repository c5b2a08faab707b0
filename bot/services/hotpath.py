"""Per-process memory for the share click's hot path, which must reach the database as little as
possible before the ack (docs/benchmarks.md).

Ids never change, so which workspace row a platform's team/tenant is, and who a platform's user is
(workspace id, member id), are kept until evicted; the member's
language and when their profile was last checked are refreshed whenever the profile is. A post's
shareability (state, networks, captions) is kept for `POST_TTL` only: another process (the clock
expiring it, an admin on another web process cancelling it) may change it, and the TTL bounds how long
this process can be behind. A cancel in this process forgets the post at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar

from models import Post, PostState

logger = logging.getLogger(__name__)
T = TypeVar("T")

POST_TTL_SECONDS: Final = 1.0
MAX_MEMBERS: Final = 100_000
MAX_POSTS: Final = 10_000
MAX_WORKSPACES: Final = 10_000
# At most this many clicks' work after their ack (directory look-ups, answers) runs at once; the rest wait.
AFTER_ACK_CONCURRENCY: Final = 16


@dataclass(frozen=True)
class MemberRef:
    workspace_id: int
    member_id: int
    lang: str
    checked_at: datetime | None
    # As the directory last said at `checked_at`: False when it did not know them or they were deactivated
    # (a click of theirs is refused: `bot.flows.shares`).
    active: bool = True


@dataclass(frozen=True)
class PostRef:
    id: int
    workspace_id: int
    state: PostState
    networks: tuple[str, ...]
    captions: tuple[str, ...]
    channels: tuple[str, ...] = ()  # where it was pushed: a share's channel is one of these

    @classmethod
    def of(cls, post: Post) -> PostRef:
        return cls(
            post.id,
            post.workspace_id,
            post.state,
            tuple(post.networks),
            tuple(post.captions),
            tuple(post.channels or ()),
        )


class AfterAck:
    """A bound on the work that follows the acks (a look-up in the directory, the answer to the member).

    One event loop serves the acks and that work alike, with no priorities: under a burst of clicks,
    hundreds of answers in flight each take their turn between two acks, and the acks' latency grows
    with them (p99 760-835 ms at 50 concurrent, docs/benchmarks.md). With a bound, a click waiting for
    its turn costs nothing, the acks keep their pace, and the answers catch up once the burst is over;
    every waiting click is still answered once (the semaphore is FIFO)."""

    def __init__(self, concurrency: int = AFTER_ACK_CONCURRENCY) -> None:
        self._slots = asyncio.Semaphore(concurrency)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._slots:
            yield


class HotCache:
    """Members are keyed by the platform's name with its workspace and user ids: ids are only unique
    within a platform (a Slack team id and a Teams tenant id could in principle be the same string), and
    one process serves every platform."""

    def __init__(self) -> None:
        self._members: OrderedDict[tuple[str, str, str], MemberRef] = OrderedDict()
        self._workspaces: dict[tuple[str, str], int] = {}
        self.after_ack = AfterAck()
        self._posts: OrderedDict[tuple[int, int], tuple[float, PostRef]] = OrderedDict()

    def workspace(self, platform: str, workspace: str) -> int | None:
        """The id of the workspace row of a platform's team/tenant id, if this process has met it."""
        return self._workspaces.get((platform, workspace))

    def remember_workspace(self, platform: str, workspace: str, workspace_id: int) -> None:
        if len(self._workspaces) >= MAX_WORKSPACES:
            self._workspaces.clear()  # a deployment serves a handful: this only bounds a flood of ids
        self._workspaces[(platform, workspace)] = workspace_id

    def member(self, platform: str, workspace: str, user: str) -> MemberRef | None:
        key = (platform, workspace, user)
        found = self._members.get(key)
        if found is not None:
            self._members.move_to_end(key)
        return found

    def remember_member(self, platform: str, workspace: str, user: str, ref: MemberRef) -> None:
        key = (platform, workspace, user)
        self._members[key] = ref
        self._members.move_to_end(key)
        while len(self._members) > MAX_MEMBERS:
            self._members.popitem(last=False)

    def forget_member(self, platform: str, workspace: str, user: str) -> None:
        self._members.pop((platform, workspace, user), None)

    def post(self, workspace_id: int, post_id: int) -> PostRef | None:
        found = self._posts.get((workspace_id, post_id))
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def remember_post(self, ref: PostRef) -> None:
        self._posts[(ref.workspace_id, ref.id)] = (time.monotonic() + POST_TTL_SECONDS, ref)
        self._posts.move_to_end((ref.workspace_id, ref.id))
        while len(self._posts) > MAX_POSTS:
            self._posts.popitem(last=False)

    def forget_post(self, workspace_id: int, post_id: int) -> None:
        self._posts.pop((workspace_id, post_id), None)


_running: set[asyncio.Task[Any]] = set()

# What every step before an ack may spend in all: Slack waits 3 seconds, and the answer must travel.
ACK_BUDGET_SECONDS: Final = 2.4


class AckDeadline:
    """What is left of the time before an ack, shared by every step taken before it (a look-up then a
    record must not each take their own full allowance)."""

    def __init__(self, seconds: float = ACK_BUDGET_SECONDS) -> None:
        self._end = time.monotonic() + seconds

    def left(self, at_most: float | None = None) -> float:
        left = max(0.0, self._end - time.monotonic())
        return left if at_most is None else min(left, at_most)


async def started_within(work: Coroutine[Any, Any, T], seconds: float) -> tuple[asyncio.Task[T], bool]:
    """Start `work` as a task and wait for it at most `seconds`: (the task, whether it finished).

    Work before an ack must be bounded, and `asyncio.timeout` does not bound it: cancelling a database
    call waits for the call to give up (SQLite waiting for another process's write lock waits its whole
    busy timeout before the cancellation lands). So the work is never cancelled here: after `seconds`
    the caller answers the person, and the task goes on; the caller may await it after the ack to tell
    them how it ended. The task is kept referenced until it ends, and a failure nobody awaited is
    logged."""
    task = asyncio.ensure_future(work)
    _running.add(task)
    task.add_done_callback(_finished)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    return task, task in done


def _finished(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("work started before an ack failed", exc_info=task.exception())
