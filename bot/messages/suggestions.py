"""The messages of a suggestion's review: the one each admin gets (with Approve / Reject, or once decided,
who decided what), and what the employee is told."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.messages.model import (
    Action,
    Actions,
    Inline,
    Mention,
    Message,
    Note,
    Quote,
    Section,
    Text,
    lines,
    text,
)

APPROVE = "suggestion_approve"
REJECT = "suggestion_reject"


def review(
    *,
    suggestion_id: int,
    author: str,
    url: str,
    reason: str | None,
    lang: str,
    decided: Inline | None = None,
) -> Message:
    """`author` is the suggester's platform id; `decided` replaces the buttons once someone decided."""
    summary = text(lang, "suggestion_review", user=Mention("member", author), url=url)
    body: Inline = lines(summary, Quote(reason)) if reason else summary
    if decided is not None:
        return Message(summary, (Section(body), Note(decided)))
    value = str(suggestion_id)
    buttons = Actions(
        (
            Action(APPROVE, text(lang, "approve"), value=value, style="primary"),
            Action(REJECT, text(lang, "reject"), value=value, style="danger"),
        ),
        id=f"suggestion:{suggestion_id}",
    )
    return Message(summary, (Section(body), buttons))


def decision(lang: str, *, state: str, by: str | None, post_id: int | None) -> Text:
    """Who decided what, under a closed review: approved as post #id, or rejected."""
    admin: Inline = Mention("member", by) if by else "?"
    if state == "approved":
        return text(lang, "suggestion_approved_note", admin=admin, id=post_id or 0)
    return text(lang, "suggestion_rejected_note", admin=admin)


def outcome(*, url: str, state: str, post_id: int | None, lang: str) -> Message:
    """To the employee who suggested `url`: approved (and which post it is), or not selected."""
    if state == "approved":
        said = text(lang, "suggestion_approved_employee", url=url, id=post_id or 0)
    else:
        said = text(lang, "suggestion_rejected_employee", url=url)
    return Message(said, (Section(said),))


def unreached(lang: str) -> Message:
    """To the employee: saved, but no admin could be reached."""
    said = text(lang, "suggest_unsent")
    return Message(said, (Section(said),))


# From outbox payloads (`bot.services.suggestions`), for `bot.messages.outbox`.


def review_of(payload: Mapping[str, Any]) -> Message:
    lang = str(payload.get("lang", "en"))
    decided = payload.get("decided")
    return review(
        suggestion_id=int(payload["suggestion_id"]),
        author=str(payload["author"]),
        url=str(payload["url"]),
        reason=str(payload["reason"]) if payload.get("reason") else None,
        lang=lang,
        decided=(
            decision(lang, state=str(decided["state"]), by=decided.get("by"), post_id=decided.get("post_id"))
            if decided
            else None
        ),
    )


def outcome_of(payload: Mapping[str, Any]) -> Message:
    post_id = payload.get("post_id")
    return outcome(
        url=str(payload["url"]),
        state=str(payload["state"]),
        post_id=int(post_id) if post_id is not None else None,
        lang=str(payload.get("lang", "en")),
    )


def unreached_of(payload: Mapping[str, Any]) -> Message:
    return unreached(str(payload.get("lang", "en")))
