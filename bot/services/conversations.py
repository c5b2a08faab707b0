"""Conversation references: what a platform needs to write to a person or a channel first (Teams: the
Bot Framework's ConversationReference of a conversation the bot was in). The adapter remembers the latest
one each activity brings; its notifier looks it up when the outbox sends.

Most activities bring the reference Relais already has (every click on a channel's card brings the
channel's), so each process remembers, per database, a digest of the references it wrote and saw
committed (`Written`), and skips writing one again while it is the same, for `WRITTEN_TTL_SECONDS` at
most: another process (or the notifier) writing a newer reference for the same key is caught up with
within that time."""

from __future__ import annotations

import hashlib
import json
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Final

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from models import ConversationRef, Workspace

WRITTEN_TTL_SECONDS: Final = 600.0
WRITTEN_CAPACITY: Final = 100_000
_PENDING: Final = "relais.conversations.pending"

Key = tuple[int, str]


class Written:
    """The digests of the references this process wrote to one database, once committed: (workspace id,
    key) -> (digest, when it expires), at most `capacity`, each for `ttl` seconds."""

    def __init__(
        self,
        *,
        ttl: float = WRITTEN_TTL_SECONDS,
        capacity: int = WRITTEN_CAPACITY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._monotonic = monotonic
        self._digests: OrderedDict[Key, tuple[bytes, float]] = OrderedDict()

    def holds(self, key: Key, digest: bytes) -> bool:
        found = self._digests.get(key)
        return found is not None and found[0] == digest and found[1] > self._monotonic()

    def knows(self, key: Key) -> bool:
        """Whether a reference for `key` is stored (deleted only when its member is erased), as far as
        seen lately."""
        found = self._digests.get(key)
        return found is not None and found[1] > self._monotonic()

    def forget(self, key: Key) -> None:
        """`key`'s reference was deleted (its member erased): the next one is written again."""
        self._digests.pop(key, None)

    def keep(self, written: dict[Key, bytes]) -> None:
        until = self._monotonic() + self._ttl
        for key, digest in written.items():
            self._digests[key] = (digest, until)
            self._digests.move_to_end(key)
        while len(self._digests) > self._capacity:
            self._digests.popitem(last=False)


_written: weakref.WeakKeyDictionary[Engine, Written] = weakref.WeakKeyDictionary()


def written(session: AsyncSession) -> Written:
    """This process's `Written` for the database `session` works on."""
    engine = session.get_bind().engine
    found = _written.get(engine)
    if found is None:
        found = _written[engine] = Written()
    return found


def forget(session: AsyncSession, *, workspace_id: int, key: str) -> None:
    """This process forgets that it wrote `key`'s reference (deleted in `session`: an erased member), so
    that the next activity of that person stores theirs again. Another process learns within
    `WRITTEN_TTL_SECONDS`."""
    written(session).forget((workspace_id, key))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        pending[0].keep(pending[1])


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _digest(reference: dict[str, Any]) -> bytes:
    return hashlib.blake2b(json.dumps(reference, sort_keys=True).encode(), digest_size=16).digest()


async def remember(
    session: AsyncSession, *, workspace_id: int, key: str, reference: dict[str, Any], now: datetime
) -> None:
    """Keep `reference` as the way to reach `key` (a member's AAD object id, a channel's conversation id)
    in the workspace, replacing an older one: one statement, so that concurrent activities of the same
    person agree without a conflict error. A name the older one gave the conversation (Teams names a
    channel in some activities only) is kept when the newer one has none. Nothing is written when this
    process wrote the same reference for `key` lately (`Written`). The caller commits."""
    cache, digest = written(session), _digest(reference)
    if cache.holds((workspace_id, key), digest):
        return
    session.info.setdefault(_PENDING, (cache, {}))[1][(workspace_id, key)] = digest
    if not _name_of(reference):
        older = _name_of(await reference_for(session, workspace_id=workspace_id, key=key))
        if older:
            reference = {**reference, "conversation": {**reference.get("conversation", {}), "name": older}}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(ConversationRef).values(
        workspace_id=workspace_id, key=key, reference=reference, updated_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["workspace_id", "key"],
            set_={"reference": statement.excluded.reference, "updated_at": statement.excluded.updated_at},
        )
    )


async def has_reference(session: AsyncSession, *, workspace_id: int, key: str) -> bool:
    """Whether a reference is stored for `key` in the workspace: without a query when this process wrote
    or read one lately (one it read is kept as if written: the same reference is then not written again)."""
    cache = written(session)
    if cache.knows((workspace_id, key)):
        return True
    found = await reference_for(session, workspace_id=workspace_id, key=key)
    pending = session.info.get(_PENDING)
    if found is not None and (pending is None or (workspace_id, key) not in pending[1]):  # not uncommitted
        cache.keep({(workspace_id, key): _digest(found)})
    return found is not None


async def reference_for(session: AsyncSession, *, workspace_id: int, key: str) -> dict[str, Any] | None:
    """The reference last remembered for `key` in the workspace, or None."""
    return await session.scalar(
        select(ConversationRef.reference).where(
            ConversationRef.workspace_id == workspace_id, ConversationRef.key == key
        )
    )


async def names(
    session: AsyncSession,
    *,
    keys: Collection[str],
    workspace_id: int | None = None,
    platform: str | None = None,
    workspace: str | None = None,
) -> dict[str, str]:
    """The names of these conversations (channels) of a workspace (its id, or its platform and own id)
    as their stored references give them (a platform whose ids are not for people names a channel so);
    keys without one are left out."""
    if not keys:
        return {}
    query = select(ConversationRef.key, ConversationRef.reference).where(ConversationRef.key.in_(list(keys)))
    if workspace_id is not None:
        query = query.where(ConversationRef.workspace_id == workspace_id)
    else:
        query = query.join(Workspace, Workspace.id == ConversationRef.workspace_id).where(
            Workspace.platform == platform, Workspace.external_id == workspace
        )
    rows = await session.execute(query)
    return {key: name for key, reference in rows if (name := _name_of(reference))}


def _name_of(reference: object) -> str:
    conversation = reference.get("conversation") if isinstance(reference, dict) else None
    name = conversation.get("name") if isinstance(conversation, dict) else None
    return name.strip() if isinstance(name, str) else ""
