"""The closed vocabularies of the domain, stored as their string values."""

from __future__ import annotations

import enum


class Platform(enum.StrEnum):
    """The platforms Relais ships adapters for. `Workspace.platform` holds any adapter's name (a plugin's
    too), so code must not assume a workspace's platform is one of these."""

    SLACK = "slack"
    TEAMS = "teams"


class Network(enum.StrEnum):
    LINKEDIN = "linkedin"
    X = "x"


class PostState(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ShareStatus(enum.StrEnum):
    """Where one member's share of one post on one network stands.

    `intent`: the member opened their personal share link (no confirmation comes back from the network).
    `pending`/`retrying`: an API post is under way. `posted`: the network answered with the post's id.
    `unknown`: the call's outcome could not be known (timeout after sending); never posted again blindly.
    `undone`: posted, then deleted by the member. `failed`: definitely not posted (see `error`).
    """

    INTENT = "intent"
    PENDING = "pending"
    RETRYING = "retrying"
    POSTED = "posted"
    UNKNOWN = "unknown"
    UNDONE = "undone"
    FAILED = "failed"


class SocialAccountStatus(enum.StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobRunState(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
