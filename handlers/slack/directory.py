"""The Slack user directory (users.info with include_locale) behind the core's `Directory` port."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.members import Profile

# The person is gone. Not `account_inactive`: that one means Relais's own bot token is dead (its bot user
# or workspace was deleted); the lookup then fails and the cached profile is kept.
GONE_ERRORS = frozenset({"user_not_found", "user_not_visible"})


class SlackDirectory:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def profile(self, user_id: str) -> Profile | None:
        try:
            response = await self._client.users_info(user=user_id, include_locale=True)
        except SlackApiError as exc:
            if exc.response.get("error") in GONE_ERRORS:
                return None
            raise
        user = response["user"]
        profile = user.get("profile") or {}
        return Profile(
            display_name=profile.get("display_name") or user.get("real_name") or user.get("name"),
            locale=user.get("locale"),
            timezone=user.get("tz"),
            is_admin=bool(user.get("is_admin") or user.get("is_owner")),
            active=not user.get("deleted", False),
        )
