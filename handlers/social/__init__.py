"""The social-network clients, built from the settings over one shared HTTP client (`new_http_client`),
found by the core through the `relais.social` entry point (pyproject.toml)."""

from __future__ import annotations

import httpx

from bot.config import Settings
from bot.platforms import new_http_client
from bot.social import SocialClient
from handlers.social.linkedin import LinkedInClient
from handlers.social.x import XClient
from models import Network

__all__ = ["build_social_clients", "new_http_client"]


def build_social_clients(settings: Settings, http: httpx.AsyncClient) -> dict[Network, SocialClient]:
    """A client for each network whose client id is set (the settings guarantee its secret is too)."""
    clients: dict[Network, SocialClient] = {}
    if settings.linkedin_client_id is not None and settings.linkedin_client_secret is not None:
        clients[Network.LINKEDIN] = LinkedInClient(
            http=http,
            client_id=settings.linkedin_client_id,
            client_secret=settings.linkedin_client_secret.get_secret_value(),
            auth_url=settings.linkedin_auth_url,
            api_url=settings.linkedin_api_url,
            version=settings.linkedin_version,
        )
    if settings.x_client_id is not None and settings.x_client_secret is not None:
        clients[Network.X] = XClient(
            http=http,
            client_id=settings.x_client_id,
            client_secret=settings.x_client_secret.get_secret_value(),
            auth_url=settings.x_auth_url,
            api_url=settings.x_api_url,
        )
    return clients
