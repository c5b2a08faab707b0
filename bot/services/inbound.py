"""Deliveries from a chat platform already handled, shared by every web process through the database.

A platform delivers the same activity or event again when it got no answer in time (Teams resends an
activity with the same id; Slack retries an event), and the second delivery may reach another web
process than the first (several `relais serve` behind a load balancer, or one restarted). The first
process to `claim` a delivery runs it; the others run nothing: an answer given in the HTTP response (a
Teams invoke's) is stored (`remember_answer`) for them to give again (`answer_of`). A first run that
failed is `release`d, so that the next delivery runs.

Each function is one short transaction of its own, committed before it returns: none is held across
the turn it guards, which may call the platform. Rows are forgotten after `RETENTION` (`prune`, by the
clock): the platforms resend within minutes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Sessions, insert_ignoring_conflicts
from models import InboundDelivery

RETENTION: Final = timedelta(days=1)

Answer = dict[str, Any]


def delivery_key(*parts: str) -> str:
    """A delivery's identity from the platform's own ids (Teams: channel, conversation and activity ids),
    as a bounded key: their SHA-256 (the ids may be long; Teams' conversation ids are)."""
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Claimed:
    """A delivery some process claimed: `answer` is what its run answered, None while it runs (or for a
    delivery answered otherwise than in its response)."""

    answer: Answer | None


async def claim(sessions: Sessions, *, platform: str, key: str, now: datetime) -> bool:
    """Record the delivery as handled: True if it is new (the caller runs it), False if a process
    claimed it already (it runs nothing). Safe under concurrency: one insert, conflicts ignored."""
    async with sessions() as session:
        result = await session.execute(
            insert_ignoring_conflicts(
                session,
                InboundDelivery.__table__,
                [{"platform": platform, "key": key, "claimed_at": now, "answer": None}],
            )
        )
        await session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def remember_answer(sessions: Sessions, *, platform: str, key: str, answer: Answer) -> None:
    """Keep what the run of a claimed delivery answered, for the deliveries of it that come again."""
    async with sessions() as session:
        await session.execute(
            update(InboundDelivery)
            .where(InboundDelivery.platform == platform, InboundDelivery.key == key)
            .values(answer=answer)
        )
        await session.commit()


async def answer_of(sessions: Sessions, *, platform: str, key: str) -> Claimed | None:
    """The claim of a delivery and its answer so far; None if nobody holds it (never claimed, released
    after a failure, or forgotten)."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(InboundDelivery.answer).where(
                    InboundDelivery.platform == platform, InboundDelivery.key == key
                )
            )
        ).first()
    return None if row is None else Claimed(row.answer)


async def release(sessions: Sessions, *, platform: str, key: str) -> None:
    """Forget the claim of a delivery whose run failed: its next delivery runs."""
    async with sessions() as session:
        await session.execute(
            delete(InboundDelivery).where(InboundDelivery.platform == platform, InboundDelivery.key == key)
        )
        await session.commit()


async def prune(session: AsyncSession, *, now: datetime) -> int:
    """Forget deliveries claimed more than `RETENTION` ago; how many. The caller commits."""
    result = await session.execute(
        delete(InboundDelivery).where(InboundDelivery.claimed_at < now - RETENTION)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
