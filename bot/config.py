"""The operator's settings: one pydantic-settings class read from the environment and `.env`.

The environment variable names are the operator's interface (README, table "Configuration"); change
them only with a migration note. A setting that the command being run needs and that is missing or
malformed becomes a `ConfigError` whose message is one line naming the variable and how to set it; the
CLI prints that line and exits with code 2.
"""

from __future__ import annotations

import logging
import re
from functools import cached_property
from typing import Annotated, Any

from cryptography.fernet import Fernet, MultiFernet
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.db import normalize_database_url

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# Azure Bot's "Type of App", spelled as the Bot Framework's MicrosoftAppType setting (any case accepted).
MICROSOFT_APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")
# Where the Bot Framework publishes the keys that sign the tokens of the activities it sends.
BOT_FRAMEWORK_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
# Microsoft Entra ID's sign-in host: the keys of a single-tenant bot's tokens, the Microsoft sign-in.
MICROSOFT_LOGIN_URL = "https://login.microsoftonline.com"

# A Microsoft Entra object id (Teams' `aadObjectId`): a GUID, which Teams sends in lower case and which
# an admin may paste from elsewhere in upper case.
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def is_guid(value: str) -> bool:
    """A Microsoft Entra id (a user's object id, a tenant id), compared whatever its case."""
    return _GUID.fullmatch(value) is not None


def user_id_key(user_id: str) -> str:
    """A chat user id as RELAIS_ADMINS is compared: a GUID (an Entra object id) in lower case, whatever
    case it was written in; any other id as it is (Slack's are upper case by nature, and case matters
    to them)."""
    return user_id.lower() if _GUID.fullmatch(user_id) else user_id


# A workspace id that may qualify a RELAIS_ADMINS entry: a Slack team or Grid organisation id, or a Teams
# tenant id (a GUID). Before a colon, only Bot Framework's own prefixes (`28:` a bot, `29:` a user) are
# part of a user id; anything else is refused (a lower-case `t0001:U2` would otherwise match nobody).
_WORKSPACE_ID = re.compile(r"[TE][A-Z0-9]{2,}")
_BOT_FRAMEWORK_PREFIXES = ("28", "29")


def split_admin(entry: str) -> tuple[str | None, str]:
    """A RELAIS_ADMINS entry (`admin_entry`) as (workspace id or None, user id)."""
    head, colon, tail = entry.partition(":")
    if colon and tail and (_WORKSPACE_ID.fullmatch(head) or _GUID.fullmatch(head)):
        return head, tail
    return None, entry


def admin_entry(entry: str) -> str:
    """One RELAIS_ADMINS entry as it is compared: a user id alone, or `<workspace id>:<user id>` (a Slack
    team id, a Teams tenant id) naming the one workspace where that id is an admin; each part read by
    `user_id_key`. A user id may itself hold a colon (Bot Framework's `29:…`). ValueError for anything
    else."""
    entry = entry.strip()
    if not entry or entry.startswith(":") or entry.endswith(":") or any(char.isspace() for char in entry):
        raise ValueError(f"{entry!r} is neither a user id nor <workspace id>:<user id>")
    workspace, user = split_admin(entry)
    if workspace is not None and _WORKSPACE_ID.fullmatch(workspace) and ":" in user:
        raise ValueError(f"{entry!r} is neither a user id nor <workspace id>:<user id>")  # Slack's hold none
    if workspace is None and ":" in entry and entry.partition(":")[0] not in _BOT_FRAMEWORK_PREFIXES:
        raise ValueError(
            f"{entry!r} names no workspace before its colon (a Slack team or organisation id, T… or E… in "
            "capitals, or a Teams tenant id) and is no Bot Framework id (28:…, 29:…)"
        )
    return user_id_key(user) if workspace is None else f"{user_id_key(workspace)}:{user_id_key(user)}"


def admins_in(admins: frozenset[str], workspace: str, enterprise: str | None = None) -> frozenset[str]:
    """The user ids (`user_id_key`) RELAIS_ADMINS makes admins of `workspace` (its Slack team id or Teams
    tenant id; `enterprise`, its Enterprise Grid organisation's id): those named alone, those named with
    this workspace, and those named with its organisation (`E…:<user id>`: an admin in every workspace
    of the organisation, where a user id names one person)."""
    keys = {user_id_key(workspace), *([enterprise] if enterprise else [])}
    return frozenset(user for named, user in map(split_admin, admins) if named is None or named in keys)


def bare_slack_ids(admins: frozenset[str]) -> list[str]:
    """The RELAIS_ADMINS entries that name a Slack user without their workspace (anything alone that is
    neither a Microsoft Entra object id, unique to one tenant's person, nor a Bot Framework id)."""
    return sorted(
        entry
        for workspace, entry in map(split_admin, admins)
        if workspace is None and ":" not in entry and not _GUID.fullmatch(entry)
    )


# RELAIS_RETENTION_DAYS's bounds. At least 60 days: the figures of recent weeks are read from the rows
# themselves (the 30 days of `/relais stats`, the weekly leaderboard and its four weeks of streak), and
# Relais still edits the nudges of the last five weeks (`shared_marks.MARKED_WEEKS`); the job cuts at a
# Monday, up to a week further back.
MIN_RETENTION_DAYS = 60
MAX_RETENTION_DAYS = 36_500
DEFAULT_RETENTION_DAYS = 400  # a year and a month: last year's same month still compares

# How to set each variable, for the one-line error. Keys are field names.
_HOW_TO_SET: dict[str, str] = {
    "database_url": "e.g. DATABASE_URL=postgresql://user:password@host:5432/relais or sqlite:///relais.db",
    "port": "e.g. PORT=3000 (an integer between 1 and 65535)",
    "public_url": "e.g. PUBLIC_URL=https://relais.example.com (http or https, no trailing path needed)",
    "slack_bot_token": "the Bot User OAuth Token (xoxb-…) from your Slack app's 'OAuth & Permissions' page",
    "slack_signing_secret": "the Signing Secret from your Slack app's 'Basic Information' page",
    "slack_app_token": "an app-level token (xapp-…) with connections:write, from 'Basic Information'",
    "slack_api_url": "e.g. SLACK_API_URL=https://slack.com/api/",
    "slack_messages_per_minute": (
        "how many messages a minute Slack takes from Relais in a workspace, all channels and DMs together, "
        "e.g. SLACK_MESSAGES_PER_MINUTE=600 (a whole number, at least 1)"
    ),
    "slack_client_id": "the Client ID from your Slack app's 'Basic Information' page (Sign in with Slack)",
    "slack_client_secret": "the Client Secret from your Slack app's 'Basic Information' page",
    "slack_state_secret": (
        "a long random string, made with: python -c 'import secrets; print(secrets.token_urlsafe(32))' "
        "(with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, it turns on installs through /slack/install)"
    ),
    "slack_authorize_url": "e.g. SLACK_AUTHORIZE_URL=https://slack.com/oauth/v2/authorize",
    "slack_oidc_authorize_url": "e.g. SLACK_OIDC_AUTHORIZE_URL=https://slack.com/openid/connect/authorize",
    "relais_channel": "a Slack channel id such as C0123456789 (or #name)",
    "relais_admins": (
        "a comma-separated list of chat user ids (Slack user ids, Teams users' Microsoft Entra object ids), "
        "each alone or after its workspace's id and a colon (a Slack team id, a Teams tenant id; an "
        "Enterprise Grid organisation id, E…, for all of its workspaces), "
        "e.g. RELAIS_ADMINS=U012AB3CD,T012AB3CD:U045EF6GH,0e6f1b2c-4a5d-4e8f-9a1b-2c3d4e5f6a7b"
    ),
    "encryption_key": (
        "a Fernet key, made with: python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())' (several keys comma-separated rotate them, newest first)"
    ),
    "log_level": "one of " + ", ".join(LOG_LEVELS),
    "relais_retention_days": (
        f"how many days click rows and finished outbox messages are kept, e.g. RELAIS_RETENTION_DAYS=400 "
        f"(a whole number from {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS})"
    ),
    "linkedin_client_id": "the Client ID from your LinkedIn app's 'Auth' tab (developer.linkedin.com)",
    "linkedin_client_secret": "the Primary Client Secret from your LinkedIn app's 'Auth' tab",
    "linkedin_auth_url": "e.g. LINKEDIN_AUTH_URL=https://www.linkedin.com/oauth/v2",
    "linkedin_api_url": "e.g. LINKEDIN_API_URL=https://api.linkedin.com",
    "linkedin_version": "a LinkedIn API version YYYYMM from the last 12 months, e.g. LINKEDIN_VERSION=202610",
    "x_client_id": "the OAuth 2.0 Client ID from your X app's 'Keys and tokens' page (developer.x.com)",
    "x_client_secret": "the OAuth 2.0 Client Secret from your X app's 'Keys and tokens' page",
    "x_auth_url": "e.g. X_AUTH_URL=https://x.com/i/oauth2/authorize",
    "x_api_url": "e.g. X_API_URL=https://api.x.com",
    "microsoft_app_id": "the Microsoft App ID of your Azure Bot resource (its 'Configuration' page)",
    "microsoft_app_password": "a client secret of the bot's app registration ('Manage Password' there)",
    "microsoft_app_tenant_id": "the Directory (tenant) ID of the bot's app registration",
    "microsoft_app_type": "one of " + ", ".join(MICROSOFT_APP_TYPES) + ", as the Azure Bot's 'Type of App'",
    "relais_teams_anonymous": "true only for a local client such as the Agents Playground, else false",
    "teams_openid_metadata_url": f"e.g. TEAMS_OPENID_METADATA_URL={BOT_FRAMEWORK_OPENID_METADATA_URL}",
    "microsoft_login_url": f"e.g. MICROSOFT_LOGIN_URL={MICROSOFT_LOGIN_URL} (Microsoft Entra ID)",
}


class ConfigError(Exception):
    """A setting is missing or malformed. `str(error)` is the one line shown to the operator."""


class Settings(BaseSettings):
    """Every setting Relais reads. Field `foo_bar` is read from the environment variable `FOO_BAR`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    database_url: str = "sqlite:///relais.db"
    port: int = Field(default=3000, ge=1, le=65535)
    public_url: str | None = None
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # Slack's workspace-wide cap on chat.postMessage, documented only as "several hundred per minute": the
    # outbox paces every drainer's messages to it together (`handlers.slack.notifier`).
    slack_messages_per_minute: int = Field(default=600, ge=1)
    slack_client_id: str | None = None  # Sign in with Slack (browser sign-in), with the secret below
    slack_client_secret: SecretStr | None = None
    slack_oidc_authorize_url: str = "https://slack.com/openid/connect/authorize"
    # With the client id and secret: Slack OAuth v2 installs, one deployment serving many workspaces.
    slack_state_secret: SecretStr | None = None
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"  # tests point it at the fake
    relais_channel: str | None = None  # Slack's: the fallback channel of Slack workspaces only
    relais_admins: Annotated[frozenset[str], NoDecode] = frozenset()
    encryption_key: SecretStr | None = None
    log_level: str = "INFO"
    # Click rows and finished outbox messages older than this are deleted (`bot.services.retention`).
    relais_retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS, ge=MIN_RETENTION_DAYS, le=MAX_RETENTION_DAYS
    )
    linkedin_client_id: str | None = None
    linkedin_client_secret: SecretStr | None = None
    linkedin_auth_url: str = "https://www.linkedin.com/oauth/v2"
    linkedin_api_url: str = "https://api.linkedin.com"
    linkedin_version: str | None = None
    x_client_id: str | None = None
    x_client_secret: SecretStr | None = None
    x_auth_url: str = "https://x.com/i/oauth2/authorize"
    x_api_url: str = "https://api.x.com"
    microsoft_app_id: str | None = None
    microsoft_app_password: SecretStr | None = None
    microsoft_app_tenant_id: str | None = None
    microsoft_app_type: str = "MultiTenant"
    relais_teams_anonymous: bool = False
    teams_openid_metadata_url: str = BOT_FRAMEWORK_OPENID_METADATA_URL
    microsoft_login_url: str = MICROSOFT_LOGIN_URL  # Microsoft Entra ID (tests point it at a local one)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("public_url", "slack_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator(
        "linkedin_auth_url",
        "linkedin_api_url",
        "x_auth_url",
        "x_api_url",
        "slack_oidc_authorize_url",
        "slack_authorize_url",
        mode="before",
    )
    @classmethod
    def _social_url(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return cls.model_fields[info.field_name or ""].default
        if isinstance(value, str):
            value = value.strip().rstrip("/")
            if not value.startswith(("http://", "https://")):
                raise ValueError("must start with http:// or https://")
        return value

    @field_validator(
        "linkedin_client_id", "x_client_id", "microsoft_app_id", "microsoft_app_tenant_id", "slack_client_id"
    )
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("linkedin_version")
    @classmethod
    def _linkedin_version(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not re.fullmatch(r"20\d{2}(0[1-9]|1[0-2])", value):
            raise ValueError("must be a month written YYYYMM")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str | None) -> str:
        if not value:
            return "https://slack.com/api/"
        return value if value.endswith("/") else value + "/"

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "encryption_key",
        "linkedin_client_secret",
        "x_client_secret",
        "microsoft_app_password",
        "slack_client_secret",
        "slack_state_secret",
    )
    @classmethod
    def _empty_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            for key in value.get_secret_value().split(","):
                Fernet(key.strip().encode())
        except ValueError:
            raise ValueError("not a valid Fernet key: 32 url-safe base64-encoded bytes") from None
        return value

    @field_validator("microsoft_app_type", mode="before")
    @classmethod
    def _microsoft_app_type(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return "MultiTenant"
        if isinstance(value, str):
            for app_type in MICROSOFT_APP_TYPES:
                if value.strip().lower() == app_type.lower():
                    return app_type
            raise ValueError(
                "must be " + ", ".join(MICROSOFT_APP_TYPES[:-1]) + " or " + MICROSOFT_APP_TYPES[-1]
            )
        return value

    @field_validator("teams_openid_metadata_url", mode="before")
    @classmethod
    def _openid_metadata_url(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return BOT_FRAMEWORK_OPENID_METADATA_URL
        if isinstance(value, str):
            value = value.strip()
            if not value.startswith(("http://", "https://")):
                raise ValueError("must start with http:// or https://")
        return value

    @field_validator("microsoft_login_url", mode="before")
    @classmethod
    def _login_url(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return MICROSOFT_LOGIN_URL
        if isinstance(value, str):
            value = value.strip().rstrip("/")
            if not value.startswith(("http://", "https://")):
                raise ValueError("must start with http:// or https://")
        return value

    @field_validator("relais_admins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(admin_entry(str(part)) for part in value if str(part).strip())
        return value

    @field_validator("relais_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError("not a log level")
        return level

    @model_validator(mode="after")
    def _default_public_url(self) -> Settings:
        if self.public_url is None:
            self.public_url = f"http://localhost:{self.port}"
        self.public_url = self.public_url.rstrip("/")
        return self

    @model_validator(mode="after")
    def _social_credentials_come_in_pairs(self) -> Settings:
        for network in ("linkedin", "x", "slack"):
            has_id = getattr(self, f"{network}_client_id") is not None
            has_secret = getattr(self, f"{network}_client_secret") is not None
            if has_id and not has_secret:
                raise _missing(f"{network}_client_secret", because=f"{network.upper()}_CLIENT_ID is set")
            if has_secret and not has_id:
                raise _missing(f"{network}_client_id", because=f"{network.upper()}_CLIENT_SECRET is set")
        return self

    @model_validator(mode="after")
    def _one_slack_mode(self) -> Settings:
        """Installs (SLACK_STATE_SECRET) take each workspace's token from its installation: a bot token set
        as well would be one workspace's token used for another's, so the two are not mixed."""
        if self.slack_state_secret is None:
            return self
        if self.slack_client_id is None:
            raise _missing("slack_client_id", because="SLACK_STATE_SECRET is set")
        if self.slack_bot_token is not None:
            raise ConfigError(
                "SLACK_BOT_TOKEN is refused because SLACK_STATE_SECRET is set: with installs through "
                "/slack/install each workspace's token comes from its installation; unset one of them in "
                "the environment or in .env."
            )
        if self.relais_channel is not None:
            raise ConfigError(
                "RELAIS_CHANNEL is refused because SLACK_STATE_SECRET is set: one channel id cannot be "
                "every workspace's; each workspace's admins set theirs with /relais channel. Unset "
                "RELAIS_CHANNEL in the environment or in .env."
            )
        return self

    @model_validator(mode="after")
    def _admins_name_their_workspace_with_installs(self) -> Settings:
        """With installs one Relais serves many workspaces, maybe of several companies, and a Slack user id
        alone says not which: it would make an admin of whoever has that id in any of them."""
        bare = bare_slack_ids(self.relais_admins) if self.slack_installs else []
        if bare:
            raise ConfigError(
                f"RELAIS_ADMINS names {bare[0]} without its workspace, refused because SLACK_STATE_SECRET is "
                "set: with installs Relais serves several workspaces and a Slack user id alone does not say "
                f"which; write it <team id>:<user id>, e.g. RELAIS_ADMINS=T012AB3CD:{bare[0]} (the team id, "
                "T…, follows app.slack.com/client/ in the workspace's web address), in the environment or "
                "in .env."
            )
        return self

    @model_validator(mode="after")
    def _teams_anonymous_only_without_app_id(self) -> Settings:
        """Anonymous mode takes activities from anyone: it is for a local client on this machine, never for
        a deployment that Teams reaches, which the app id means."""
        if self.relais_teams_anonymous and self.microsoft_app_id is not None:
            raise ConfigError(
                "RELAIS_TEAMS_ANONYMOUS is refused because MICROSOFT_APP_ID is set: anonymous mode is only "
                "for a local client such as the Agents Playground; unset one of them in the environment or "
                "in .env."
            )
        if self.microsoft_app_password is not None and self.microsoft_app_id is None:
            raise _missing("microsoft_app_id", because="MICROSOFT_APP_PASSWORD is set")
        return self

    # -- what a command needs -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`PUBLIC_URL` without a trailing slash: the base of tracked links and OAuth redirects."""
        assert self.public_url is not None  # set by the validator
        return self.public_url

    @property
    def slack_configured(self) -> bool:
        """Slack is configured as soon as any Slack credential is set; a Teams-only deployment sets none."""
        return any((self.slack_bot_token, self.slack_signing_secret, self.slack_app_token))

    @property
    def slack_installs(self) -> bool:
        """Many workspaces from one deployment: Slack OAuth v2 installs (`/slack/install`), each workspace
        with its own bot token, kept encrypted; else one workspace with SLACK_BOT_TOKEN."""
        return self.slack_state_secret is not None

    def require_slack(self) -> None:
        """Raise `ConfigError` unless the Slack credentials form a usable set."""
        if self.slack_installs:
            if self.slack_signing_secret is None:
                raise _missing("slack_signing_secret", because="SLACK_STATE_SECRET is set")
            if self.encryption_key is None:
                raise _missing("encryption_key", because="SLACK_STATE_SECRET is set")
            return
        if self.slack_bot_token is None:
            raise _missing("slack_bot_token")
        if self.slack_signing_secret is None and self.slack_app_token is None:
            raise _missing("slack_signing_secret")

    @property
    def teams_configured(self) -> bool:
        """Teams is served once the bot's app id is set, or in anonymous mode (a local client)."""
        return self.microsoft_app_id is not None or self.relais_teams_anonymous

    def require_teams(self) -> None:
        """Raise `ConfigError` unless the Teams settings let the bot authenticate its own calls: a client
        secret except for a managed identity, and the tenant unless the bot is multi-tenant."""
        if self.microsoft_app_id is None:
            return  # anonymous mode (or Teams off): nothing to authenticate with
        if self.microsoft_app_type != "UserAssignedMSI" and self.microsoft_app_password is None:
            raise _missing(
                "microsoft_app_password", because=f"MICROSOFT_APP_TYPE is {self.microsoft_app_type}"
            )
        if self.microsoft_app_type != "MultiTenant" and self.microsoft_app_tenant_id is None:
            raise _missing(
                "microsoft_app_tenant_id", because=f"MICROSOFT_APP_TYPE is {self.microsoft_app_type}"
            )

    def require_encryption_key(self) -> None:
        if self.encryption_key is None:
            raise _missing("encryption_key")

    @property
    def social_networks(self) -> tuple[str, ...]:
        """The networks members can connect (API posting); the others are offered by share link only."""
        return tuple(n for n in ("linkedin", "x") if getattr(self, f"{n}_client_id") is not None)

    def require_social(self) -> None:
        """Raise `ConfigError` if a network is configured but its tokens could not be kept encrypted."""
        if self.social_networks and self.encryption_key is None:
            raise _missing("encryption_key", because=f"{self.social_networks[0].upper()}_CLIENT_ID is set")

    @cached_property
    def fernet(self) -> MultiFernet:
        """The cipher for tokens at rest; the first key encrypts, every key decrypts (key rotation)."""
        self.require_encryption_key()
        assert self.encryption_key is not None
        keys = [Fernet(k.strip().encode()) for k in self.encryption_key.get_secret_value().split(",")]
        return MultiFernet(keys)


def _missing(field: str, *, because: str | None = None) -> ConfigError:
    reason = f" but {because}" if because else ""
    return ConfigError(
        f"{field.upper()} is not set{reason}: set it in the environment or in .env ({_HOW_TO_SET[field]})."
    )


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's multi-line report into one operator-facing line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        how = _HOW_TO_SET.get(field, "see the README's Configuration table")
        raise ConfigError(
            f"{field.upper()} is invalid ({message}): set it in the environment or in .env ({how})."
        ) from None


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiosqlite logs every statement with its parameters at DEBUG: sign-in nonces and PKCE verifiers,
    # CSRF tokens. Secrets are never logged, whatever the level.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    if settings.log_level != "DEBUG":
        # Alembic narrates its set-up at INFO; `relais migrate` prints its own summary.
        logging.getLogger("alembic").setLevel(logging.WARNING)
