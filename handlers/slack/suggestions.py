"""Slack side of suggestions: review messages to admins, and updating them once someone decides."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import members as member_service
from handlers.slack.blocks.suggestion import build_suggestion_review
from handlers.slack.text import t
from models import Member, Suggestion

logger = logging.getLogger(__name__)


async def _language(session: AsyncSession, workspace_id: int, user_id: str) -> str:
    member = await session.scalar(
        select(Member).where(Member.workspace_id == workspace_id, Member.external_id == user_id)
    )
    return member_service.language_of(member) if member is not None else "en"


async def send_reviews(
    session: AsyncSession,
    client: AsyncWebClient,
    *,
    suggestion: Suggestion,
    author_id: str,
    admins: list[str],
) -> int:
    """DM each admin the suggestion with Approve / Reject, all at once (the suggester waits for the
    slowest, not the sum); remembers where, to update them later."""
    languages = [await _language(session, suggestion.workspace_id, admin) for admin in admins]

    async def send(admin: str, lang: str) -> dict[str, str] | None:
        text, blocks = build_suggestion_review(
            suggestion_id=suggestion.id,
            author_id=author_id,
            url=suggestion.url,
            reason=suggestion.reason,
            lang=lang,
        )
        try:
            response = await client.chat_postMessage(channel=admin, text=text, blocks=blocks)
        except SlackApiError as exc:
            logger.warning(
                "could not send suggestion %s to %s: %s", suggestion.id, admin, exc.response.get("error")
            )
            return None
        except Exception:
            # The suggestion is already saved: one admin out of reach must not undo what the others got.
            logger.exception("could not send suggestion %s to %s", suggestion.id, admin)
            return None
        return {"channel": response["channel"], "ts": response["ts"], "admin": admin, "lang": lang}

    results = await asyncio.gather(
        *(send(admin, lang) for admin, lang in zip(admins, languages, strict=True))
    )
    sent = [result for result in results if result is not None]
    suggestion.review_messages = sent
    return len(sent)


async def close_reviews(
    client: AsyncWebClient, *, suggestion: Suggestion, author_id: str, decided_key: str, **params: object
) -> None:
    """Replace the buttons of every review message with who decided what."""
    for message in suggestion.review_messages:
        lang = str(message.get("lang", "en"))
        text, blocks = build_suggestion_review(
            suggestion_id=suggestion.id,
            author_id=author_id,
            url=suggestion.url,
            reason=suggestion.reason,
            lang=lang,
            decided=t(lang, decided_key, **params),
        )
        try:
            await client.chat_update(channel=message["channel"], ts=message["ts"], text=text, blocks=blocks)
        except SlackApiError as exc:
            logger.warning("could not update a review message: %s", exc.response.get("error"))
