"""The operator's settings: one pydantic-settings class read from the environment and `.env`.

The environment variable names are the operator's interface (README, table "Configuration"); change
them only with a migration note. A setting that the command being run needs and that is missing or
malformed becomes a `ConfigError` whose message is one line naming the variable and how to set it; the
CLI prints that line and exits with code 2.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Annotated, Any

from cryptography.fernet import Fernet, MultiFernet
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.db import normalize_database_url

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")

# How to set each variable, for the one-line error. Keys are field names.
_HOW_TO_SET: dict[str, str] = {
    "database_url": "e.g. DATABASE_URL=postgresql://user:password@host:5432/relais or sqlite:///relais.db",
    "port": "e.g. PORT=3000 (an integer between 1 and 65535)",
    "public_url": "e.g. PUBLIC_URL=https://relais.example.com (http or https, no trailing path needed)",
    "slack_bot_token": "the Bot User OAuth Token (xoxb-…) from your Slack app's 'OAuth & Permissions' page",
    "slack_signing_secret": "the Signing Secret from your Slack app's 'Basic Information' page",
    "slack_app_token": "an app-level token (xapp-…) with connections:write, from 'Basic Information'",
    "slack_api_url": "e.g. SLACK_API_URL=https://slack.com/api/",
    "relais_channel": "a channel id such as C0123456789 (or #name)",
    "relais_admins": "a comma-separated list of chat user ids, e.g. RELAIS_ADMINS=U012AB3CD,U045EF6GH",
    "encryption_key": (
        "a Fernet key, made with: python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())' (several keys comma-separated rotate them, newest first)"
    ),
    "log_level": "one of " + ", ".join(LOG_LEVELS),
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
    relais_channel: str | None = None
    relais_admins: Annotated[frozenset[str], NoDecode] = frozenset()
    encryption_key: SecretStr | None = None
    log_level: str = "INFO"

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

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str | None) -> str:
        if not value:
            return "https://slack.com/api/"
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "encryption_key")
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

    @field_validator("relais_admins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
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

    def require_slack(self) -> None:
        """Raise `ConfigError` unless the Slack credentials form a usable set."""
        if self.slack_bot_token is None:
            raise _missing("slack_bot_token")
        if self.slack_signing_secret is None and self.slack_app_token is None:
            raise _missing("slack_signing_secret")

    def require_encryption_key(self) -> None:
        if self.encryption_key is None:
            raise _missing("encryption_key")

    @cached_property
    def fernet(self) -> MultiFernet:
        """The cipher for tokens at rest; the first key encrypts, every key decrypts (key rotation)."""
        self.require_encryption_key()
        assert self.encryption_key is not None
        keys = [Fernet(k.strip().encode()) for k in self.encryption_key.get_secret_value().split(",")]
        return MultiFernet(keys)


def _missing(field: str) -> ConfigError:
    return ConfigError(
        f"{field.upper()} is not set: set it in the environment or in .env ({_HOW_TO_SET[field]})."
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
    if settings.log_level != "DEBUG":
        # Alembic narrates its set-up at INFO; `relais migrate` prints its own summary.
        logging.getLogger("alembic").setLevel(logging.WARNING)
