"""The Agents SDK's pieces Relais hosts Teams with, built from the settings (never from its env files).

The SDK's `CloudAdapter` runs each activity's turn and gives it a client for replies; it needs the bot's
own credentials for those calls (a token from Microsoft Entra ID for the Bot Connector), which
`token_provider` makes for each `MICROSOFT_APP_TYPE`. None of these reach the network when built: MSAL is
first called when a turn needs a token.
"""

from __future__ import annotations

import logging

from microsoft_agents.authentication.msal import MsalAuth
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    ClaimsIdentity,
    ConnectionManager,
    ConnectorClientBase,
    RestChannelServiceClientFactory,
    TurnContext,
)
from microsoft_agents.hosting.core.authorization import AuthTypes

from bot.config import Settings

logger = logging.getLogger(__name__)

# MSAL needs a tenant: a multi-tenant bot gets its tokens from the Bot Framework's own one.
MULTI_TENANT_AUTHORITY_TENANT = "botframework.com"
MAX_CONVERSATION_ID = 4096


def token_provider(settings: Settings) -> AccessTokenProviderBase:
    """The bot's credentials for its calls to the Bot Connector: none in anonymous mode (a local client
    such as the Agents Playground asks for none), else MSAL with the app's secret or managed identity.
    Call only once `settings.require_teams()` passed."""
    if settings.microsoft_app_id is None:
        return AnonymousTokenProvider()
    if settings.microsoft_app_type == "UserAssignedMSI":
        return MsalAuth(
            AgentAuthConfiguration(
                auth_type=AuthTypes.user_managed_identity,
                client_id=settings.microsoft_app_id,
                tenant_id=settings.microsoft_app_tenant_id,
            )
        )
    assert settings.microsoft_app_password is not None  # require_teams
    tenant = (
        settings.microsoft_app_tenant_id
        if settings.microsoft_app_type == "SingleTenant"
        else MULTI_TENANT_AUTHORITY_TENANT
    )
    return MsalAuth(
        AgentAuthConfiguration(
            auth_type=AuthTypes.client_secret,
            client_id=settings.microsoft_app_id,
            tenant_id=tenant,
            client_secret=settings.microsoft_app_password.get_secret_value(),
        )
    )


def build_adapter(tokens: AccessTokenProviderBase) -> CloudAdapter:
    """The SDK's adapter, getting the bot's tokens from `tokens`, and whose turn errors are logged instead
    of being sent to the person as "Exception caught: …" (the SDK's default)."""
    manager = ConnectionManager(
        provider_factory=lambda _configuration: tokens,
        connections_configurations={"SERVICE_CONNECTION": tokens.configuration},
    )
    adapter = CloudAdapter(channel_service_client_factory=_ClientFactory(manager))
    adapter.on_turn_error = _log_turn_error
    return adapter


class _ClientFactory(RestChannelServiceClientFactory):
    """The SDK's factory of a turn's Bot Connector client, whose conversation ids are not cut: 1.9.0 cuts
    them to 150 characters in every URL (docs/teams-sdk-notes.md §0.7), and Teams' are longer."""

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        client = await super().create_connector_client(
            context, claims_identity, service_url, audience, scopes, use_anonymous
        )
        conversations = client.conversations
        if hasattr(conversations, "_max_conversation_id_length"):  # private in 1.9.0: re-check on upgrades
            conversations._max_conversation_id_length = MAX_CONVERSATION_ID
        return client


async def _log_turn_error(context: TurnContext, error: Exception) -> None:
    activity = context.activity
    logger.error(
        "Teams activity %s (%s) failed",
        activity.type,
        activity.name or "-",
        exc_info=(type(error), error, error.__traceback__),
    )
