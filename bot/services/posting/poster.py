"""Posting a share through a network's API: claimed once, run through the outbox, every outcome definite.

A share row (member × post × network) is the idempotency key. `claim` moves it to `pending` with a
conditional write (only from `intent`, `failed` or `undone`), in the same transaction as an outbox row
`social_post` naming it; so concurrent clicks cannot both post, and a crash before the call loses
nothing (the clock runs what is still pending). Running that row calls the API once and ends in:

* `posted` — the network answered with the post's id;
* `failed` with a reason (`unauthorized`: the account is marked disconnected; `duplicate`, `too_long`,
  `forbidden`, `invalid`; `unavailable`/`rate_limited` after `MAX_ATTEMPTS`; `not_connected`;
  `withdrawn`: the post was cancelled or expired before a retry);
* `retrying` — 429, 503 or a connection that never reached the network: the row is due again after
  `Retry-After` / `x-rate-limit-reset` or a backoff, and the member hears the final result later;
* `unknown` — the request may have been acted on (timeout after sending, 500, 502, 504, or a crash
  mid-call found by `recover_stale`): never posted again unless the member checks and asks (`repost`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final, TypeVar

from cryptography.fernet import MultiFernet
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import connections, links, outbox, shared_marks
from bot.services import members as member_service
from bot.services.outbox import SOCIAL_POST_KIND
from bot.services.posting.claims import RESTORE_KEY, ShareView
from bot.services.posting.texts import article_of, compose
from bot.services.shared_marks import NewShare
from bot.social import (
    Article,
    Image,
    OutcomeUnknown,
    Published,
    RateLimited,
    Rejected,
    SocialClient,
    SocialError,
    Transient,
    Unauthorized,
)
from models import Member, Network, OutboxMessage, OutboxState, Post, PostState, Share, ShareStatus

logger = logging.getLogger(__name__)

SHARE_RESULT_KIND: Final = "share_result"
MAX_ATTEMPTS: Final = 4
BACKOFF_SECONDS: Final = (30, 120, 600)
RATE_LIMIT_FALLBACK: Final = timedelta(minutes=15)
STALE_SENDING: Final = timedelta(minutes=10)

Clients = Mapping[Network, SocialClient]
# Fetches an image for a card's thumbnail: (bytes, content type), or None.
ImageSource = Callable[[str], Awaitable[tuple[bytes, str] | None]]
T = TypeVar("T")


def _settled(job: OutboxMessage, status: ShareStatus) -> ShareStatus:
    """The status to store for an API post's outcome: a share that counted as an `intent` before the claim
    stays counted when the post fails or its outcome is unknown (the error says what happened)."""
    restore = job.payload.get(RESTORE_KEY) if isinstance(job.payload, dict) else None
    if restore == ShareStatus.INTENT.value and status in (ShareStatus.FAILED, ShareStatus.UNKNOWN):
        return ShareStatus.INTENT
    return status


def _anonymous(share: Share, job: OutboxMessage, now: datetime) -> ShareView:
    """A taken share whose member erased their data before its post began: settled as the erasure settles
    the ones still waiting (`bot.services.erasure`), standing for nobody and holding nothing personal."""
    share.status = _settled(job, ShareStatus.FAILED)
    share.member_id, share.caption, share.error, share.updated_at = None, None, None, now
    return ShareView.of(share)


class Poster:
    """Runs `social_post` outbox rows: one API call each, the outcome recorded on the share."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clients: Clients,
        cipher: MultiFernet | None,
        base_url: str,
        now: Callable[[], datetime],
        images: ImageSource | None = None,
    ) -> None:
        """`images` fetches a card's thumbnail (`PreviewFetcher.fetch_image`); without it, or when it gives
        nothing, LinkedIn cards have no image."""
        self._sessions = sessions
        self._images = images
        self._clients = clients
        self._cipher = cipher
        self._base_url = base_url
        self._now = now
        self._token_locks: dict[int, asyncio.Lock] = {}

    async def run_now(self, job_id: int) -> ShareView | None:
        """Run the row a click just created (the clicking member is answered by the caller). None if
        another drainer took it first (that one tells the member)."""
        job = await outbox.claim_next(
            self._sessions, self._now(), kinds=(SOCIAL_POST_KIND,), message_id=job_id
        )
        return await self._run(job, notify=False) if job is not None else None

    async def run_due(self, limit: int = 100) -> list[ShareView]:
        """The clock's pass: what crashed mid-call becomes `unknown`, then every due row runs; the member
        is told each final outcome by direct message."""
        views = await self.recover_stale()
        for _ in range(limit):
            job = await outbox.claim_next(self._sessions, self._now(), kinds=(SOCIAL_POST_KIND,))
            if job is None:
                break
            views.append(await self._run(job, notify=True))
        return views

    async def recover_stale(self) -> list[ShareView]:
        """A row left `sending` (the process died during the call) may or may not have posted: the share
        becomes `unknown` and the member is asked to check, never posted again blindly."""
        now = self._now()
        views: list[ShareView] = []
        async with self._sessions() as session:
            stale = (
                await session.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.kind == SOCIAL_POST_KIND,
                        OutboxMessage.state == OutboxState.SENDING,
                        OutboxMessage.updated_at < now - STALE_SENDING,
                    )
                )
            ).all()
            for job in stale:
                job.state, job.last_error, job.updated_at = OutboxState.FAILED, "interrupted", now
                share = await session.get(Share, int(job.destination))
                if share is not None and share.status in (ShareStatus.PENDING, ShareStatus.RETRYING):
                    share.status = _settled(job, ShareStatus.UNKNOWN)
                    share.error, share.updated_at = "interrupted", now
                    views.append(ShareView.of(share))
                    await self._notify(session, share, views[-1], now)
            await session.commit()
        return views

    async def _run(self, job: OutboxMessage, *, notify: bool) -> ShareView:
        now = self._now()
        async with self._sessions() as session:
            share = await session.get(Share, int(job.destination))
            if share is None or share.status not in (ShareStatus.PENDING, ShareStatus.RETRYING):
                await self._close(session, job.id, OutboxState.CANCELLED, now)
                await session.commit()
                if share is None:
                    raise LookupError(f"share {job.destination} is gone")
                return ShareView.of(share)
            post = await session.get_one(Post, share.post_id)
            if post.state is not PostState.PUBLISHED:  # withdrawn or expired while waiting for a retry
                share.status = _settled(job, ShareStatus.FAILED)
                share.error, share.updated_at = "withdrawn", now
                view = ShareView.of(share)
                await self._close(session, job.id, OutboxState.CANCELLED, now, error="withdrawn")
                if notify:
                    await self._notify(session, share, view, now)
                await session.commit()
                return view
            member_id = share.member_id
            link = None
            if member_id is not None:
                link = await links.link_for(
                    session,
                    workspace_id=share.workspace_id,
                    post_id=share.post_id,
                    member_id=member_id,
                    network=share.network,
                    now=now,
                )
            if member_id is None or link is None:
                # The member erased their data since the click (`bot.services.erasure` cancels the posts
                # still waiting; this one was already taken): nothing is posted in their name.
                view = _anonymous(share, job, now)
                await self._close(session, job.id, OutboxState.CANCELLED, now)
                await session.commit()
                return view
            account = await connections.account_of(session, member_id=member_id, network=share.network)
            tracked = links.tracked_url(self._base_url, link.code)
            text = compose(share.caption, tracked, share.network, title=post.title)
            article = article_of(post, tracked) if share.network is Network.LINKEDIN else None
            image_url = post.image_url
            share.attempts += 1
            attempts, share_id, workspace_id = share.attempts, share.id, share.workspace_id
            account_id = account.id if account is not None else None
            person_id = account.external_person_id if account is not None else ""
            await session.commit()

        published: Published | None = None
        retry_at: datetime | None = None
        status: ShareStatus = ShareStatus.FAILED
        reason: str | None = "not_connected"
        client = self._clients.get(share.network)
        if client is not None and account_id is not None and self._cipher is not None:
            if article is not None and image_url:
                article = await self._with_thumbnail(article, image_url)
            try:
                published = await self._with_token(
                    client,
                    account_id,
                    lambda token: client.publish(
                        token, person_id=person_id, text=text, now=now, article=article
                    ),
                )
                status, reason = ShareStatus.POSTED, None
            except Unauthorized:
                await connections.mark_disconnected(self._sessions, account_id=account_id, now=now)
                reason = "unauthorized"
            except OutcomeUnknown as exc:
                logger.warning("share %s: outcome unknown (%s)", share_id, exc.detail)
                status, reason = ShareStatus.UNKNOWN, exc.reason
            except (RateLimited, Transient) as exc:
                logger.warning("share %s: attempt %d failed (%s)", share_id, attempts, exc.detail)
                reason = exc.reason
                if attempts < MAX_ATTEMPTS:
                    status = ShareStatus.RETRYING
                    retry_at = self._retry_at(exc, attempts, now)
            except Rejected as exc:
                logger.info("share %s refused by %s: %s", share_id, share.network.value, exc.detail)
                reason = exc.reason
            except SocialError as exc:
                logger.warning("share %s failed: %s", share_id, exc.detail)
                reason = exc.reason
            except Exception:
                # Not one of the network's answers: whether the post went out cannot be known.
                logger.exception("share %s: unexpected failure during the API call", share_id)
                status, reason = ShareStatus.UNKNOWN, "unknown"

        async with self._sessions() as session:
            # The member erased during the call (`bot.services.erasure`): the outcome is kept as an
            # anonymous count, without the network's post id and URL, and nobody is told or retried.
            erased = not await member_service.hold_live(session, [(workspace_id, member_id)])
            if erased:
                status, reason, retry_at = (
                    ShareStatus.FAILED if status is ShareStatus.RETRYING else status,
                    None,
                    None,
                )
            share = await session.get_one(Share, share_id)
            if erased:  # counted for nobody, as the erasure left their other shares
                share.member_id, share.caption = None, None
            # Stamped when written, not when the post began: ranks look for shares changed since their
            # snapshot less `scores.LATE_COMMIT`, and the network may have taken longer than that.
            share.status, share.error, share.updated_at = _settled(job, status), reason, self._now()
            if published is not None:
                share.posted_at = now
                if not erased:
                    share.external_id, share.external_url = published.external_id, published.url
            view = ShareView.of(share, retry_at)
            if status is ShareStatus.RETRYING:
                assert retry_at is not None
                row = await session.get_one(OutboxMessage, job.id)
                row.state, row.next_attempt_at, row.last_error, row.updated_at = (
                    OutboxState.PENDING,
                    retry_at,
                    reason,
                    now,
                )
            else:
                state = OutboxState.SENT if status is ShareStatus.POSTED else OutboxState.FAILED
                await self._close(session, job.id, state, now, error=reason)
                if status is ShareStatus.POSTED and not erased:
                    # The member's sent reminders showing the post say it is shared (an edit queued).
                    shared = NewShare(share.workspace_id, member_id, share.post_id, share.network)
                    await shared_marks.mark_shared(session, [shared], now=now)
                if notify and not erased:
                    await self._notify(session, share, view, now)
            await session.commit()
        return view

    async def _with_thumbnail(self, article: Article, image_url: str) -> Article:
        """The article with the preview's image as its thumbnail, if it can be fetched (never raises)."""
        if self._images is None:
            return article
        try:
            fetched = await self._images(image_url)
        except Exception:
            logger.exception("fetching a thumbnail failed; the card goes without it")
            return article
        if fetched is None:
            return article
        return replace(article, thumbnail=Image(data=fetched[0], content_type=fetched[1]))

    async def _with_token(
        self, client: SocialClient, account_id: int, call: Callable[[str], Awaitable[T]]
    ) -> T:
        """Make `call` with a fresh access token; on a 401 a refreshable token is refreshed and the call
        made once more (a 401 means the network did nothing)."""
        assert self._cipher is not None
        lock = self._token_locks.setdefault(account_id, asyncio.Lock())
        now = self._now()
        token = await connections.access_token(
            self._sessions, cipher=self._cipher, client=client, account_id=account_id, now=now, lock=lock
        )
        try:
            return await call(token)
        except Unauthorized:
            if not client.can_refresh:
                raise
        token = await connections.access_token(
            self._sessions,
            cipher=self._cipher,
            client=client,
            account_id=account_id,
            now=now,
            lock=lock,
            force_refresh=True,
        )
        return await call(token)

    @staticmethod
    def _retry_at(exc: SocialError, attempts: int, now: datetime) -> datetime:
        if isinstance(exc, RateLimited):
            return max(exc.retry_at, now) if exc.retry_at is not None else now + RATE_LIMIT_FALLBACK
        return now + timedelta(seconds=BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])

    @staticmethod
    async def _close(
        session: AsyncSession, job_id: int, state: OutboxState, now: datetime, error: str | None = None
    ) -> None:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == job_id)
            .values(
                state=state,
                last_error=error,
                updated_at=now,
                sent_at=now if state is OutboxState.SENT else None,
            )
        )

    @staticmethod
    async def _notify(session: AsyncSession, share: Share, view: ShareView, now: datetime) -> None:
        member = await session.get(Member, share.member_id) if share.member_id is not None else None
        if member is None or member.erased_at is not None:
            return  # an erased member's share stands for nobody: nobody is told
        await outbox.enqueue(
            session,
            workspace_id=share.workspace_id,
            kind=SHARE_RESULT_KIND,
            destination=member.external_id,
            payload={"share": view.to_payload(), "lang": member_service.language_of(member)},
            now=now,
        )

    async def undo(self, *, workspace_id: int, member_id: int, share_id: int) -> ShareView | None:
        """Delete the member's post from the network; the share becomes `undone`. A failure leaves it
        `posted`, with the reason in the returned view. None if the share is not the member's."""
        now = self._now()
        async with self._sessions() as session:
            share = await session.scalar(
                select(Share).where(
                    Share.id == share_id, Share.workspace_id == workspace_id, Share.member_id == member_id
                )
            )
            if share is None:
                return None
            if share.status is not ShareStatus.POSTED or share.external_id is None:
                return ShareView.of(share)
            account = await connections.account_of(session, member_id=member_id, network=share.network)
            external_id, network = share.external_id, share.network
        client = self._clients.get(network)
        reason: str | None = "not_connected"
        if client is not None and account is not None and self._cipher is not None:
            try:
                await self._with_token(
                    client, account.id, lambda token: client.delete(token, external_id=external_id, now=now)
                )
                reason = None
            except Unauthorized:
                await connections.mark_disconnected(self._sessions, account_id=account.id, now=now)
                reason = "unauthorized"
            except SocialError as exc:
                logger.warning("undoing share %s failed: %s", share_id, exc.detail)
                reason = "undo_failed"
        async with self._sessions() as session:
            share = await session.get_one(Share, share_id)
            if reason is None:
                share.status, share.error, share.updated_at = ShareStatus.UNDONE, None, self._now()
                view = ShareView.of(share)
            else:
                view = ShareView(
                    share.id, share.post_id, share.network, share.status, reason, share.external_url
                )
            await session.commit()
        return view
