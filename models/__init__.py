"""The ORM models. Importing this package registers every table on `Base.metadata`."""

from models.base import Base, UTCDateTime
from models.conversation import ConversationRef
from models.dashboard import (
    DashboardMemberWeek,
    DashboardReachWeek,
    DashboardRefresh,
    DashboardSharersWeek,
    DashboardWeek,
)
from models.dismissal import Dismissal
from models.enums import (
    JobRunState,
    Network,
    OutboxState,
    Platform,
    PostState,
    ShareStatus,
    SocialAccountStatus,
)
from models.inbound import InboundDelivery
from models.job import ClockJob, JobRun
from models.link import Click, TrackedLink, VisitTally
from models.member import Member
from models.oauth import OAuthAttempt
from models.outbox import OutboxMessage
from models.points import PointsRefresh, SettledPoints
from models.post import Delivery, Post
from models.retention import RetentionHorizon, VisitorSalt
from models.sent_file import SentFile
from models.share import Share
from models.slack_install import SlackInstallation, SlackOAuthState
from models.social import SocialAccount
from models.suggestion import Suggestion, SuggestionState
from models.web_session import SignInAttempt, WebSession
from models.workspace import Workspace

__all__ = [
    "Base",
    "Click",
    "ClockJob",
    "ConversationRef",
    "DashboardMemberWeek",
    "DashboardReachWeek",
    "DashboardRefresh",
    "DashboardSharersWeek",
    "DashboardWeek",
    "Delivery",
    "Dismissal",
    "InboundDelivery",
    "JobRun",
    "JobRunState",
    "Member",
    "Network",
    "OAuthAttempt",
    "OutboxMessage",
    "OutboxState",
    "Platform",
    "PointsRefresh",
    "Post",
    "PostState",
    "RetentionHorizon",
    "SentFile",
    "SettledPoints",
    "Share",
    "ShareStatus",
    "SignInAttempt",
    "SlackInstallation",
    "SlackOAuthState",
    "SocialAccount",
    "SocialAccountStatus",
    "Suggestion",
    "SuggestionState",
    "TrackedLink",
    "UTCDateTime",
    "VisitTally",
    "VisitorSalt",
    "WebSession",
    "Workspace",
]
