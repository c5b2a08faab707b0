"""A local fake of the Bot Connector service Microsoft Teams gives a bot: what a `serviceUrl` points at.

`FakeTeams` is an aiohttp server on 127.0.0.1 (random port). Put `fake.service_url` in the activities a
test posts to Relais (or in a stored conversation reference) and the real Agents SDK `ConnectorClient`
talks to it as it would to `https://smba.trafficmanager.net/teams/`: the service URL has a path, as
Teams' do. It speaks the Bot Connector REST protocol (v3) as Teams documents it:

* `POST v3/conversations` creates a 1:1 conversation (`members` = one user, by their `29:` id or their
  Entra object id, and the tenant) and answers `{"id": "a:…"}`; a user has one 1:1 conversation with the
  bot, so creating it again answers the same id. The user must be known (`add_member`) and have the app
  (`installed`), else 403 / 404.
* `POST v3/conversations/{id}/activities` sends, `POST …/activities/{activityId}` replies (in a channel,
  in that post's thread), `PUT …/activities/{activityId}` updates, `DELETE` deletes; each answers
  `{"id": …}` (Teams' message ids are epoch milliseconds). `GET …/members`, `…/members/{id}` and
  `…/pagedmembers` list a conversation's people.
* Errors are Teams' status codes with its JSON bodies `{"error": {"code", "message"}}`: 401 without a
  bearer token (unless `anonymous`, as the Agents Playground's connector), 403 `BotNotInConversationRoster`
  once the bot was removed from a conversation (`remove_bot`: uninstalled, or the person blocked it),
  404 `ConversationNotFound` / `ActivityNotFoundInConversation`, 413 `MessageSizeTooBig` over the
  message size limit (about 100 KB, counted in UTF-16 as Teams does), 429 `Throttled` with
  `Retry-After`, and any status on demand (`fail_next`: 412, 502, 503, 504…).
* Teams' documented limits are enforced with 429 (`rate_limits=False` turns them off): per bot per
  conversation 7 messages a second, 8 in 2 s, 60 in 30 s and 1,800 an hour (sends, replies, updates and
  deletes), and 50 requests a second per app per tenant (every call). Time is `clock` (seconds; by
  default the real monotonic clock), so a test with an injected clock moves both together.
  `random_rate_limits(fraction, seed=…)` also refuses that fraction of the message operations at random
  (429 `Throttled`, `Retry-After`), as a busy Teams does below its documented limits; `random_refusals`
  records when (the fake's clock).
* Cards are not refused for what Teams would merely render badly; those are recorded in `violations`
  (an Adaptive Card over version 1.5, an `Action.Execute` without a `verb`), which tests assert empty.

Everything the fake receives is recorded (`calls`, each with its answer's status) and its state is plain
data (`conversations` with their `activities`, `members`) that tests read and may adjust.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from bot.demo.local import LocalServer

__all__ = ["ConnectorCall", "FakeConversation", "FakeMember", "FakeTeams", "message_size"]

ADAPTIVE_CARD: Final = "application/vnd.microsoft.card.adaptive"
MESSAGE_MAX_BYTES: Final = 100 * 1024  # "about 100 KB", UTF-16 encoded (Teams: "Format your bot messages")
MAX_CARD_VERSION: Final = (1, 5)
# Teams' limits per bot per conversation: (window in seconds, messages in it).
CONVERSATION_LIMITS: Final = ((1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800))
TENANT_LIMIT: Final = (1.0, 50)  # requests per second per app per tenant
MESSAGE_ID_BASE: Final = 1764200000000  # 2025-11-26T23:33:20Z in ms, like TS_BASE in the fake Slack
DENIED: Final = {"message": "Authorization has been denied for this request."}

# Operations, as recorded in `ConnectorCall.operation` and named in `fail_next`.
CREATE, SEND, REPLY, UPDATE, DELETE, MEMBERS, UNKNOWN = (
    "create_conversation",
    "send",
    "reply",
    "update",
    "delete",
    "members",
    "unknown",
)
MESSAGE_OPERATIONS: Final = frozenset({SEND, REPLY, UPDATE, DELETE})

ERROR_MESSAGES: Final = {
    "BadArgument": "Invalid request payload.",
    "BotNotInConversationRoster": "The bot isn't part of the conversation roster.",
    "ConversationBlockedByUser": "User blocked the conversation with the bot.",
    "ConversationNotFound": "Conversation not found.",
    "ActivityNotFoundInConversation": "Activity not found in conversation.",
    "MemberNotFoundInConversation": "Member not found.",
    "MessageSizeTooBig": "Message size too large.",
    "PreconditionFailed": "Precondition failed, please try again.",
    "Throttled": "Too many requests.",
    "ServiceError": "Service error.",
    "ServiceUnavailable": "Service unavailable.",
    "GatewayTimeout": "Gateway timeout.",
}
DEFAULT_CODES: Final = {
    400: "BadArgument",
    403: "BotNotInConversationRoster",
    404: "ConversationNotFound",
    412: "PreconditionFailed",
    413: "MessageSizeTooBig",
    429: "Throttled",
    500: "ServiceError",
    502: "ServiceError",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def message_size(activity: Any) -> int:
    """How Teams counts a message against its limit: the bytes of its JSON in UTF-16."""
    return len(json.dumps(activity, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))


@dataclass
class ConnectorCall:
    """One HTTP request to the connector, as the fake received it, and the status it answered."""

    http_method: str
    path: str  # below the service URL, e.g. "v3/conversations/a:1/activities"
    operation: str  # CREATE, SEND, REPLY, UPDATE, DELETE, MEMBERS or UNKNOWN
    conversation_id: str | None
    activity_id: str | None
    body: Any  # the decoded JSON body (None without one)
    token: str | None  # the bearer token, if any
    headers: dict[str, str]
    query: dict[str, str]
    status: int = 0


@dataclass
class FakeMember:
    id: str  # the Teams user id ("29:…")
    aad_object_id: str
    name: str
    tenant_id: str
    email: str | None = None
    installed: bool = True  # whether the person has the app (a 1:1 conversation can be created)

    def account(self) -> dict[str, Any]:
        given, _, surname = self.name.partition(" ")
        account: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "givenName": given,
            "surname": surname,
            "tenantId": self.tenant_id,
            "userRole": "user",
        }
        if self.email is not None:
            account["email"] = account["userPrincipalName"] = self.email
        return account


@dataclass
class FakeConversation:
    id: str
    tenant_id: str
    conversation_type: str  # "personal", "channel" or "groupChat"
    members: list[str] = field(default_factory=list)  # Teams user ids
    activities: list[dict[str, Any]] = field(default_factory=list)  # what the bot posted (current state)
    removed: str | None = None  # the 403 code once the bot was removed or blocked

    def find(self, activity_id: str) -> dict[str, Any] | None:
        for activity in self.activities:
            if activity.get("id") == activity_id:
                return activity
        return None


@dataclass
class _Failure:
    status: int
    code: str | None
    retry_after: int | None


class _ConnectorError(Exception):
    def __init__(self, status: int, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, code)


class FakeTeams(LocalServer):
    """A fake Bot Connector for one or more tenants, served over HTTP on 127.0.0.1."""

    def __init__(
        self,
        *,
        tenant_id: str = "tenant-1",
        bot_id: str = "28:relais-app-id",
        token: str | None = None,
        anonymous: bool = False,
        path: str = "/teams/",
        rate_limits: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`token`: the one bearer token accepted (None: any); `anonymous`: no token needed."""
        if not (path.startswith("/") and path.endswith("/")):
            raise ValueError("path must start and end with /")
        self.tenant_id = tenant_id
        self.bot_id = bot_id
        self.token = token
        self.anonymous = anonymous
        self.path = path
        self.rate_limits = rate_limits
        self.clock = clock

        self.members: dict[str, FakeMember] = {}
        self.conversations: dict[str, FakeConversation] = {}
        self.calls: list[ConnectorCall] = []
        self.violations: list[str] = []
        self.limited = 0  # how many requests the rate limits refused
        self.random_refusals: list[float] = []  # when (`clock`) each random 429 was answered

        self._random_limit: tuple[float, int, random.Random] | None = None
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, float] = {}
        self._conversation_sends: dict[str, deque[float]] = {}
        self._tenant_requests: dict[str, deque[float]] = {}
        self._message_counter = 0
        self._conversation_counter = 0
        super().__init__()

    # --------------------------------------------------------------------------------------------------------
    # lifecycle

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    @property
    def service_url(self) -> str:
        """The `serviceUrl` of activities from this fake (ends with "/", like Teams' own)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    # --------------------------------------------------------------------------------------------------------
    # tenant set-up

    def add_member(
        self,
        user_id: str,
        *,
        aad_object_id: str | None = None,
        name: str | None = None,
        email: str | None = None,
        tenant_id: str | None = None,
        installed: bool = True,
    ) -> FakeMember:
        """Add (or replace) a person. `aad_object_id` defaults to "aad-" + the id without "29:"."""
        bare = user_id.removeprefix("29:")
        member = FakeMember(
            id=user_id,
            aad_object_id=aad_object_id if aad_object_id is not None else f"aad-{bare}",
            name=name if name is not None else bare.capitalize(),
            tenant_id=tenant_id or self.tenant_id,
            email=email,
            installed=installed,
        )
        self.members[user_id] = member
        return member

    def add_conversation(
        self,
        conversation_id: str,
        *,
        conversation_type: str = "channel",
        members: list[str] | None = None,
        tenant_id: str | None = None,
    ) -> FakeConversation:
        """Add (or replace) a conversation the bot is in: a team's channel (`19:…@thread.tacv2`) by
        default; its `members` default to every member of the tenant."""
        tenant = tenant_id or self.tenant_id
        conversation = FakeConversation(
            id=conversation_id,
            tenant_id=tenant,
            conversation_type=conversation_type,
            members=list(members)
            if members is not None
            else [m.id for m in self.members.values() if m.tenant_id == tenant],
        )
        self.conversations[conversation_id] = conversation
        return conversation

    def personal_conversation(self, user: str) -> FakeConversation | None:
        """The bot's 1:1 conversation with `user` (a Teams id or an Entra object id), if created."""
        member = self._member(user)
        if member is None:
            return None
        for conversation in self.conversations.values():
            if conversation.conversation_type == "personal" and conversation.members == [member.id]:
                return conversation
        return None

    def remove_bot(self, conversation_id: str, code: str = "BotNotInConversationRoster") -> None:
        """From now on the bot gets 403 in this conversation: the app was uninstalled from the team or
        the person's scope (`BotNotInConversationRoster`), or the person blocked it
        (`ConversationBlockedByUser`)."""
        self.conversations[conversation_id].removed = code

    # --------------------------------------------------------------------------------------------------------
    # recordings and injected behaviour

    def calls_to(self, operation: str) -> list[ConnectorCall]:
        return [call for call in self.calls if call.operation == operation]

    def activities(self, conversation_id: str) -> list[dict[str, Any]]:
        """What the bot posted in a conversation (updates applied), oldest first."""
        conversation = self.conversations.get(conversation_id)
        return list(conversation.activities) if conversation is not None else []

    def cards(self, conversation_id: str) -> list[dict[str, Any]]:
        """The Adaptive Cards the bot posted in a conversation (their content), oldest first."""
        return [
            attachment["content"]
            for activity in self.activities(conversation_id)
            for attachment in activity.get("attachments") or ()
            if isinstance(attachment, dict) and attachment.get("contentType") == ADAPTIVE_CARD
        ]

    async def wait_for_calls(
        self,
        operation: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[ConnectorCall]:
        """Wait until `operation` was called at least `count` times; returns those calls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(calls := self.calls_to(operation)) < count:
            if loop.time() >= deadline:
                raise TimeoutError(
                    f"{operation} was called {len(calls)} times within {timeout}s, not {count}"
                )
            await asyncio.sleep(0.01)
        return calls

    def fail_next(
        self,
        operation: str = SEND,
        *,
        status: int = 429,
        code: str | None = None,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `operation` ("*": any) answer `status` with Teams' error body
        (`code` defaults to Teams' code for the status); a 429 or 503 carries `Retry-After` unless
        `retry_after` is None."""
        self._failures.setdefault(operation, []).extend(
            _Failure(status=status, code=code, retry_after=retry_after) for _ in range(times)
        )

    def random_rate_limits(self, fraction: float = 0.02, *, seed: int = 0, retry_after: int = 1) -> None:
        """Refuse a random `fraction` of the sends, replies, updates and deletes with 429 `Throttled` and
        `Retry-After: retry_after`, whatever the limits (Teams throttles a busy service below them), drawn
        from a generator seeded with `seed` so that a run can be repeated; 0 stops it. A refused request
        does not count against the limits."""
        self._random_limit = (fraction, retry_after, random.Random(seed)) if fraction > 0 else None  # noqa: S311

    def delay(self, operation: str, seconds: float) -> None:
        """Answer `operation` only after `seconds` (0 removes the delay)."""
        if seconds <= 0:
            self._delays.pop(operation, None)
        else:
            self._delays[operation] = seconds

    def reset(self) -> None:
        """Forget recordings, injected failures, delays and rate counters; keep members and conversations."""
        self.calls.clear()
        self.violations.clear()
        self.limited = 0
        self.random_refusals.clear()
        self._failures.clear()
        self._delays.clear()
        self._conversation_sends.clear()
        self._tenant_requests.clear()

    # --------------------------------------------------------------------------------------------------------
    # HTTP plumbing

    async def _handle(self, request: web.Request) -> web.Response:
        tail = request.path
        path = tail[len(self.path) :] if tail.startswith(self.path) else tail.lstrip("/")
        operation, conversation_id, activity_id = _route(request.method, path, tail.startswith(self.path))
        raw = await request.text() if request.body_exists else ""
        body: Any = None
        bad_json = False
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        authorization = request.headers.get("Authorization", "")
        token = None
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip() or None
        call = ConnectorCall(
            http_method=request.method,
            path=path,
            operation=operation,
            conversation_id=conversation_id,
            activity_id=activity_id,
            body=body,
            token=token,
            headers=dict(request.headers),
            query=dict(request.query),
        )
        self.calls.append(call)
        response = await self._answer(call, bad_json)
        call.status = response.status
        return response

    async def _answer(self, call: ConnectorCall, bad_json: bool) -> web.Response:
        seconds = self._delays.get(call.operation) or self._delays.get("*")
        if seconds:
            await asyncio.sleep(seconds)
        if not self._authorized(call.token):
            return web.json_response(DENIED, status=401)
        failure = self._next_failure(call.operation)
        if failure is not None:
            return _failure_response(failure)
        if self._random_limit is not None and call.operation in MESSAGE_OPERATIONS:
            fraction, retry_after, draw = self._random_limit
            if draw.random() < fraction:
                self.random_refusals.append(self.clock())
                return _error_response(429, "Throttled", headers={"Retry-After": str(retry_after)})
        try:
            if call.operation == UNKNOWN:
                raise _ConnectorError(404, "NotFound", "The requested resource does not exist.")
            if bad_json:
                raise _ConnectorError(400, "BadArgument", "Invalid JSON.")
            if call.operation == CREATE:
                return self._create_conversation(call)
            conversation = self._conversation(call.conversation_id)
            if call.operation == MEMBERS:
                return self._members(call, conversation)
            return self._message_operation(call, conversation)
        except _ConnectorError as error:
            return _error_response(error.status, error.code, error.message)
        except _Limited as limited:
            self.limited += 1
            return _error_response(429, "Throttled", headers={"Retry-After": str(limited.retry_after)})

    def _authorized(self, token: str | None) -> bool:
        if token is None:
            return self.anonymous
        return self.token is None or token == self.token

    def _next_failure(self, operation: str) -> _Failure | None:
        for key in (operation, "*"):
            queue = self._failures.get(key)
            if queue:
                return queue.pop(0)
        return None

    def _conversation(self, conversation_id: str | None) -> FakeConversation:
        conversation = self.conversations.get(conversation_id or "")
        if conversation is None and conversation_id and ";messageid=" in conversation_id:
            # A channel post's thread: `19:…@thread.tacv2;messageid=<root post id>`.
            conversation = self.conversations.get(conversation_id.split(";", 1)[0])
        if conversation is None:
            raise _ConnectorError(404, "ConversationNotFound")
        if conversation.removed is not None:
            raise _ConnectorError(403, conversation.removed)
        return conversation

    def _member(self, user: str) -> FakeMember | None:
        if user in self.members:
            return self.members[user]
        return next((m for m in self.members.values() if m.aad_object_id == user), None)

    # --------------------------------------------------------------------------------------------------------
    # operations

    def _create_conversation(self, call: ConnectorCall) -> web.Response:
        body = call.body
        if not isinstance(body, dict):
            raise _ConnectorError(400, "BadArgument", "Conversation parameters are required.")
        tenant = body.get("tenantId") or ((body.get("channelData") or {}).get("tenant") or {}).get("id")
        members = body.get("members")
        if not tenant or not isinstance(members, list) or len(members) != 1 or body.get("isGroup"):
            raise _ConnectorError(400, "BadArgument", "A 1:1 conversation needs one member and the tenant.")
        if not isinstance(members[0], dict) or not isinstance(members[0].get("id"), str):
            raise _ConnectorError(400, "BadArgument", "A member needs an id.")
        self._admit(str(tenant))
        member = self._member(members[0]["id"])
        if member is None or member.tenant_id != tenant:
            raise _ConnectorError(404, "MemberNotFoundInConversation", "User not found in the tenant.")
        if not member.installed:
            raise _ConnectorError(403, "BotNotInConversationRoster", "The bot is not installed for the user.")
        existing = self.personal_conversation(member.id)
        if existing is not None:
            if existing.removed is not None:
                raise _ConnectorError(403, existing.removed)
            return web.json_response({"id": existing.id}, status=201)
        self._conversation_counter += 1
        conversation_id = f"a:1{self._conversation_counter:04d}{member.aad_object_id}"
        self.conversations[conversation_id] = FakeConversation(
            id=conversation_id, tenant_id=member.tenant_id, conversation_type="personal", members=[member.id]
        )
        activity = body.get("activity")
        if isinstance(activity, dict):  # the first message, sent with the creation
            self._store(self.conversations[conversation_id], activity)
        return web.json_response({"id": conversation_id}, status=201)

    def _members(self, call: ConnectorCall, conversation: FakeConversation) -> web.Response:
        self._admit(conversation.tenant_id)
        accounts = [self.members[m].account() for m in conversation.members if m in self.members]
        member_id = call.path.rsplit("/members/", 1)[-1] if "/members/" in call.path else None
        if member_id is not None:
            member = self._member(member_id)
            if member is None or member.id not in conversation.members:
                raise _ConnectorError(404, "MemberNotFoundInConversation")
            return web.json_response(member.account())
        if call.path.endswith("/pagedmembers"):
            return web.json_response({"members": accounts})
        return web.json_response(accounts)

    def _message_operation(self, call: ConnectorCall, conversation: FakeConversation) -> web.Response:
        if call.operation == DELETE:
            gone = self._existing(conversation, call.activity_id)
            self._admit(conversation.tenant_id, conversation.id)
            conversation.activities.remove(gone)
            return web.Response(status=200)
        activity = call.body
        if not isinstance(activity, dict) or not isinstance(activity.get("type"), str):
            raise _ConnectorError(400, "BadArgument", "The activity type is required.")
        if activity["type"] == "message" and not (activity.get("text") or activity.get("attachments")):
            raise _ConnectorError(400, "BadArgument", "A message needs text or attachments.")
        if message_size(activity) > MESSAGE_MAX_BYTES:
            raise _ConnectorError(413, "MessageSizeTooBig")
        existing = self._existing(conversation, call.activity_id) if call.operation == UPDATE else None
        self._admit(conversation.tenant_id, conversation.id)
        self._check_cards(activity)
        if existing is not None:
            existing.clear()
            existing.update(activity, id=call.activity_id)
            return web.json_response({"id": call.activity_id})
        if call.operation == REPLY:
            activity = {**activity, "replyToId": call.activity_id}
        return web.json_response({"id": self._store(conversation, activity)}, status=201)

    def _existing(self, conversation: FakeConversation, activity_id: str | None) -> dict[str, Any]:
        existing = conversation.find(activity_id or "")
        if existing is None:
            raise _ConnectorError(404, "ActivityNotFoundInConversation")
        return existing

    def _store(self, conversation: FakeConversation, activity: dict[str, Any]) -> str:
        self._message_counter += 1
        activity_id = str(MESSAGE_ID_BASE + self._message_counter)
        conversation.activities.append({**activity, "id": activity_id})
        return activity_id

    def _check_cards(self, activity: dict[str, Any]) -> None:
        for index, attachment in enumerate(activity.get("attachments") or ()):
            if not isinstance(attachment, dict) or attachment.get("contentType") != ADAPTIVE_CARD:
                continue
            self.violations.extend(
                f"attachments[{index}]: {problem}" for problem in _card_problems(attachment.get("content"))
            )

    # --------------------------------------------------------------------------------------------------------
    # rate limits

    def _admit(self, tenant_id: str, conversation_id: str | None = None) -> None:
        """Count one request of the tenant's (and one message in `conversation_id`), or raise `_Limited`
        when Teams' limits refuse it (a refused request is not counted)."""
        if not self.rate_limits:
            return
        now = self.clock()
        window, limit = TENANT_LIMIT
        requests = _recent(self._tenant_requests.setdefault(tenant_id, deque()), now, window)
        wait = _wait(requests, now, window, limit)
        sent: deque[float] | None = None
        if conversation_id is not None:
            horizon = max(window for window, _ in CONVERSATION_LIMITS)
            sent = _recent(self._conversation_sends.setdefault(conversation_id, deque()), now, horizon)
            wait = max([wait, *(_wait(sent, now, window, limit) for window, limit in CONVERSATION_LIMITS)])
        if wait > 0:
            raise _Limited(wait)
        requests.append(now)
        if sent is not None:
            sent.append(now)


class _Limited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.retry_after = max(1, math.ceil(wait))


def _recent(times: deque[float], now: float, window: float) -> deque[float]:
    """`times` without those older than `window` seconds."""
    while times and times[0] <= now - window:
        times.popleft()
    return times


def _wait(times: deque[float], now: float, window: float, limit: int) -> float:
    """How long until one more request fits `limit` requests in any `window` seconds (0: now)."""
    recent = [at for at in times if at > now - window]
    if len(recent) < limit:
        return 0.0
    return recent[len(recent) - limit] + window - now


def _route(method: str, path: str, under_service: bool) -> tuple[str, str | None, str | None]:
    """(operation, conversation id, activity id) of a request below the service URL."""
    parts = path.split("/")
    if not under_service or len(parts) < 2 or parts[:2] != ["v3", "conversations"]:
        return UNKNOWN, None, None
    if len(parts) == 2:
        return (CREATE if method == "POST" else UNKNOWN), None, None
    conversation_id = parts[2]
    rest = parts[3:]
    if rest == ["activities"] and method == "POST":
        return SEND, conversation_id, None
    if len(rest) == 2 and rest[0] == "activities":
        operation = {"POST": REPLY, "PUT": UPDATE, "DELETE": DELETE}.get(method, UNKNOWN)
        return operation, conversation_id, rest[1]
    if method == "GET" and (
        rest in (["members"], ["pagedmembers"]) or (len(rest) == 2 and rest[0] == "members")
    ):
        return MEMBERS, conversation_id, None
    return UNKNOWN, conversation_id, None


def _card_problems(card: Any) -> Iterator[str]:
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        yield "content is not an AdaptiveCard"
        return
    version = str(card.get("version", ""))
    try:
        major, minor = (int(n) for n in version.split("."))
    except ValueError:
        yield f"version {version!r} is not major.minor"
    else:
        if (major, minor) > MAX_CARD_VERSION:
            yield f"version {version} is over Teams' 1.5"
    for action in _actions(card):
        if action.get("type") == "Action.Execute" and not action.get("verb"):
            yield "an Action.Execute without a verb"


def _actions(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Action."):
            yield node
        for value in node.values():
            yield from _actions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _actions(item)


def _error_response(
    status: int, code: str, message: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"code": code, "message": message or ERROR_MESSAGES.get(code, code)}}
    return web.json_response(body, status=status, headers=headers)


def _failure_response(failure: _Failure) -> web.Response:
    code = failure.code or DEFAULT_CODES.get(failure.status, "ServiceError")
    headers = None
    if failure.status in (429, 503) and failure.retry_after is not None:
        headers = {"Retry-After": str(failure.retry_after)}
    return _error_response(failure.status, code, headers=headers)
