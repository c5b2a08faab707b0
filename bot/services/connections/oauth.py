"""Connecting a member's LinkedIn or X account: personal links and the OAuth round trip.

The chain of trust: Relais hands a member a personal link (`/oauth/<network>/start?t=…`) whose token is
a Fernet ciphertext of an `OAuthAttempt` row's id and nonce — authentic (only this install can make one),
bound to the member, valid 10 minutes and single-use (the row records its first use). Opening it sets
the attempt's random `state` (echoed back by the provider, and also kept in a browser cookie: a browser
holding another flow's state is refused) and, for X, a PKCE verifier; the callback is accepted once,
for that state, within `CALLBACK_TTL`. Both ends need the browser signed in (`bot.signin_pages`) as the
member the link was made for: a forwarded link or consent page stores nothing. Tokens are
stored encrypted with `ENCRYPTION_KEY` and decrypted only to make a call.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import Language
from bot.services import members as member_service
from bot.services import outbox
from bot.services.connections.tokens import account_of, put_tokens, revoke_unstored
from bot.signin import code_challenge
from bot.social import SocialClient, SocialError, TokenSet
from models import Member, Network, OAuthAttempt, SocialAccount, SocialAccountStatus, Workspace

logger = logging.getLogger(__name__)

LINK_TTL: Final = timedelta(minutes=10)
CALLBACK_TTL: Final = timedelta(minutes=15)

CONNECTED_KIND: Final = "social_connected"

# What the provider says when the member refuses consent (LinkedIn, X / RFC 6749).
DENIALS: Final = frozenset({"user_cancelled_login", "user_cancelled_authorize", "access_denied"})


class ConnectFailure(Exception):
    """Why a connection did not happen, as a code the page explains in the member's language:
    `invalid_link`, `expired_link`, `used_link`, `other_browser` (the callback came to a browser that
    did not start this connection), `other_member` (the browser is signed in as someone else than the
    member the link was made for), `not_signed_in` (a callback to a browser signed in as nobody),
    `denied`, `provider_error`, `not_configured`."""

    def __init__(self, code: str, lang: Language = "en", platform: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.lang = lang
        # The member's chat platform, when the link is theirs: the page says how to ask for a new one.
        self.platform = platform


class SignInFirst(Exception):
    """The link is good, but nobody is signed in at the browser: sign in, then open it again (it is
    still unused)."""


@dataclass(frozen=True)
class Started:
    """Where to send the browser (the provider's consent page) and the state to keep in a cookie."""

    redirect_to: str
    state: str
    lang: Language


@dataclass(frozen=True)
class Connected:
    workspace_id: int
    member_id: int
    member_external_id: str
    network: Network
    lang: Language


async def _platform_of(session: AsyncSession, member: Member) -> str:
    return (
        await session.scalars(select(Workspace.platform).where(Workspace.id == member.workspace_id))
    ).one()


def redirect_uri(base_url: str, network: Network) -> str:
    """The callback registered with the provider (it must match exactly, at every step)."""
    return f"{base_url}/oauth/{network.value}/callback"


def state_digest(state: str) -> str:
    """What is stored of a state: its SHA-256, so the database never holds a live one."""
    return hashlib.sha256(state.encode()).hexdigest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier)) without padding (the same as browser sign-in's)."""
    return code_challenge(verifier)


async def issue_link(
    session: AsyncSession,
    *,
    cipher: MultiFernet,
    base_url: str,
    member: Member,
    network: Network,
    now: datetime,
) -> str:
    """A personal connect link for `member`, valid `LINK_TTL`, usable once."""
    nonce = secrets.token_urlsafe(24)
    attempt = OAuthAttempt(
        workspace_id=member.workspace_id,
        member_id=member.id,
        network=network,
        nonce=nonce,
        expires_at=now + LINK_TTL,
        created_at=now,
        updated_at=now,
    )
    session.add(attempt)
    await session.flush()
    token = cipher.encrypt_at_time(f"{attempt.id}.{nonce}".encode(), int(now.timestamp())).decode()
    return f"{base_url}/oauth/{network.value}/start?t={token}"


async def start(
    session: AsyncSession,
    *,
    cipher: MultiFernet,
    client: SocialClient | None,
    base_url: str,
    network: Network,
    token: str,
    signed_in: Member | None,
    now: datetime,
) -> Started:
    """Use a connect link: check it, mark it used, and give the provider URL to redirect to.

    The link is a bearer token, and can be forwarded: it is used only in a browser signed in as the
    member it was made for (`signed_in`, the browser's session), so that nobody can get another
    person's consent stored on their own record. Nobody signed in: `SignInFirst`, the link unused.
    Someone else: `other_member`, the link unused, nothing stored."""
    attempt = await _attempt_of_token(session, cipher, token, network)
    member = await session.get_one(Member, attempt.member_id)
    lang = member_service.language_of(member)
    platform = await _platform_of(session, member)
    if client is None:
        raise ConnectFailure("not_configured", lang, platform)
    if attempt.started_at is not None:
        raise ConnectFailure("used_link", lang, platform)
    if now >= attempt.expires_at:
        raise ConnectFailure("expired_link", lang, platform)
    if signed_in is None:
        raise SignInFirst()
    if signed_in.id != attempt.member_id:
        await _refuse_other_member(session, attempt, signed_in)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64) if client.uses_pkce else None
    used = await session.execute(
        update(OAuthAttempt)
        .where(OAuthAttempt.id == attempt.id, OAuthAttempt.started_at.is_(None))
        .values(
            started_at=now,
            updated_at=now,
            state=state_digest(state),
            code_verifier_encrypted=cipher.encrypt(verifier.encode()).decode() if verifier else None,
        )
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        # Opened twice at the same moment: the other one won.
        raise ConnectFailure("used_link", lang, platform)
    url = client.authorization_url(
        redirect_uri=redirect_uri(base_url, network),
        state=state,
        code_challenge=pkce_challenge(verifier) if verifier else None,
    )
    return Started(redirect_to=url, state=state, lang=lang)


async def _spend(session: AsyncSession, attempt: OAuthAttempt, now: datetime) -> None:
    """Mark a refused callback's attempt finished (committed: the refusal raises next)."""
    await session.execute(
        update(OAuthAttempt)
        .where(OAuthAttempt.id == attempt.id, OAuthAttempt.finished_at.is_(None))
        .values(finished_at=now, updated_at=now, outcome="refused")
    )
    await session.commit()


async def _refuse_other_member(session: AsyncSession, attempt: OAuthAttempt, signed_in: Member) -> None:
    """Raise `other_member`, told to the person at the browser (in their language, their platform's
    command), and noted: a link opened by someone else is how a forwarded link would be abused."""
    logger.warning(
        "connect link of member %s refused in a browser signed in as member %s",
        attempt.member_id,
        signed_in.id,
    )
    raise ConnectFailure(
        "other_member", member_service.language_of(signed_in), await _platform_of(session, signed_in)
    )


async def _attempt_of_token(
    session: AsyncSession, cipher: MultiFernet, token: str, network: Network
) -> OAuthAttempt:
    try:
        attempt_id, _, nonce = cipher.decrypt(token.encode()).decode().partition(".")
    except (InvalidToken, UnicodeError, ValueError):
        raise ConnectFailure("invalid_link") from None
    attempt = await session.get(OAuthAttempt, int(attempt_id)) if attempt_id.isdigit() else None
    if attempt is None or attempt.network != network or not secrets.compare_digest(attempt.nonce, nonce):
        raise ConnectFailure("invalid_link")
    return attempt


async def finish(
    sessions: async_sessionmaker[AsyncSession],
    *,
    cipher: MultiFernet,
    client: SocialClient | None,
    base_url: str,
    network: Network,
    query: dict[str, str],
    browser_state: str | None,
    signed_in_member_id: int | None,
    now: datetime,
) -> Connected:
    """The provider's callback: check the state, exchange the code, store the connection, tell the member.

    The state must be this browser's (its cookie, mandatory) and the browser signed in as the member
    who started (`signed_in_member_id`): a consent page forwarded to someone else comes back to their
    browser, which has neither, and nothing is stored. The attempt is consumed (committed) before the
    code is exchanged, so a replayed callback fails whatever happens next."""
    async with sessions() as session:
        state = query.get("state", "")
        attempt = (
            await session.scalar(
                select(OAuthAttempt).where(
                    OAuthAttempt.state == state_digest(state), OAuthAttempt.network == network
                )
            )
            if state
            else None
        )
        if attempt is None or attempt.started_at is None:
            raise ConnectFailure("invalid_link")
        member = await session.get_one(Member, attempt.member_id)
        lang = member_service.language_of(member)
        platform = await _platform_of(session, member)
        if attempt.finished_at is not None:
            raise ConnectFailure("used_link", lang, platform)
        if now >= attempt.started_at + CALLBACK_TTL:
            raise ConnectFailure("expired_link", lang, platform)
        # A refused callback spends its attempt: the code it carries is the consent of whoever was at this
        # browser, and must not be replayed elsewhere (sent back to the link's member, it would connect
        # that person's account to them).
        if signed_in_member_id is not None and signed_in_member_id != attempt.member_id:
            # Someone else's consent page, completed here (forwarded): told so, in their own words.
            signed_in = await session.get(Member, signed_in_member_id)
            if signed_in is not None:
                await _spend(session, attempt, now)
                await _refuse_other_member(session, attempt, signed_in)
        if browser_state is None or not secrets.compare_digest(browser_state, state):
            # This browser did not start this connection: a callback forced into it (login CSRF), or a
            # consent page forwarded to someone else. Refused even without any cookie, though on phones
            # the provider's app may hand the callback to another browser: the member then finishes in
            # the browser where they opened the link.
            await _spend(session, attempt, now)
            raise ConnectFailure("other_browser", lang, platform)
        if signed_in_member_id is None or signed_in_member_id != attempt.member_id:
            await _spend(session, attempt, now)
            raise ConnectFailure("not_signed_in", lang, platform)
        if client is None:
            raise ConnectFailure("not_configured", lang, platform)
        error = query.get("error")
        outcome = (
            "denied" if error in DENIALS else "provider_error" if error or not query.get("code") else None
        )
        consumed = await session.execute(
            update(OAuthAttempt)
            .where(OAuthAttempt.id == attempt.id, OAuthAttempt.finished_at.is_(None))
            .values(finished_at=now, updated_at=now, outcome=outcome or "exchanging")
        )
        await session.commit()
        if consumed.rowcount != 1:  # type: ignore[attr-defined]
            raise ConnectFailure("used_link", lang, platform)
        if outcome is not None:
            if error not in DENIALS:
                logger.warning("%s refused the authorization: %s", network.value, error or "no code")
            raise ConnectFailure(outcome, lang, platform)
        verifier = (
            cipher.decrypt(attempt.code_verifier_encrypted.encode()).decode()
            if attempt.code_verifier_encrypted
            else None
        )
        workspace_id, member_id, member_external_id = member.workspace_id, member.id, member.external_id
        attempt_id = attempt.id

    try:
        tokens = await client.exchange_code(
            code=query["code"], redirect_uri=redirect_uri(base_url, network), code_verifier=verifier, now=now
        )
        person_id = await client.person_id(tokens.access_token)
    except SocialError as exc:
        logger.warning("connecting %s for member %s failed: %s", network.value, member_id, exc.detail)
        async with sessions() as session:
            await _set_outcome(session, attempt_id, "provider_error", now)
            await session.commit()
        raise ConnectFailure("provider_error", lang, platform) from None

    stored = False
    for attempt_number in range(2):
        try:
            async with sessions() as session:
                # Erased while the code was exchanged: their tokens are not stored, nor anyone told.
                if not await member_service.hold_live(session, [(workspace_id, member_id)]):
                    break
                await _store(
                    session,
                    cipher=cipher,
                    workspace_id=workspace_id,
                    member_id=member_id,
                    network=network,
                    person_id=person_id,
                    tokens=tokens,
                    now=now,
                )
                await _set_outcome(session, attempt_id, "connected", now)
                await outbox.enqueue(
                    session,
                    workspace_id=workspace_id,
                    kind=CONNECTED_KIND,
                    destination=member_external_id,
                    payload={"network": network.value, "lang": lang},
                    now=now,
                    dedupe_key=f"connected:{attempt_id}",
                )
                await session.commit()
                stored = True
            break
        except IntegrityError:
            # Two of the member's connections finished at once and both inserted the account: the
            # second pass updates the row the first one created.
            if attempt_number:
                raise
    if not stored:
        await revoke_unstored(client, network, tokens)
        raise ConnectFailure("invalid_link", lang, platform)
    return Connected(workspace_id, member_id, member_external_id, network, lang)


async def _set_outcome(session: AsyncSession, attempt_id: int, outcome: str, now: datetime) -> None:
    await session.execute(
        update(OAuthAttempt).where(OAuthAttempt.id == attempt_id).values(outcome=outcome, updated_at=now)
    )


async def _store(
    session: AsyncSession,
    *,
    cipher: MultiFernet,
    workspace_id: int,
    member_id: int,
    network: Network,
    person_id: str,
    tokens: TokenSet,
    now: datetime,
) -> SocialAccount:
    account = await account_of(session, member_id=member_id, network=network)
    if account is None:
        account = SocialAccount(
            workspace_id=workspace_id, member_id=member_id, network=network, created_at=now
        )
        session.add(account)
    account.external_person_id = person_id
    account.status = SocialAccountStatus.CONNECTED
    account.expiry_warned_at = None
    put_tokens(account, cipher, tokens, now)
    await session.flush()
    return account


ATTEMPT_RETENTION: Final = timedelta(days=1)


async def purge_attempts(session: AsyncSession, *, now: datetime) -> int:
    """Forget connect attempts older than a day: their links and states are long dead."""
    result = await session.execute(
        delete(OAuthAttempt).where(OAuthAttempt.created_at < now - ATTEMPT_RETENTION)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
