"""Settings: the operator's variable names, URL mapping, defaults, .env, secrets and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, admins_in, load_settings


def test_defaults_give_sqlite_in_the_working_directory_on_port_3000() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///relais.db"
    assert settings.port == 3000
    assert settings.base_url == "http://localhost:3000"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.log_level == "INFO"
    assert not settings.slack_configured


def test_public_url_defaults_to_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    assert load_settings().base_url == "http://localhost:8080"
    monkeypatch.setenv("PUBLIC_URL", "https://relais.example.com/")
    assert load_settings().base_url == "https://relais.example.com"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///data/relais.db", "sqlite+aiosqlite:///data/relais.db"),
        ("sqlite:////var/lib/relais.db", "sqlite+aiosqlite:////var/lib/relais.db"),
        ("postgres://u:p@db:5432/relais", "postgresql+asyncpg://u:p@db:5432/relais"),
        ("postgresql://u:p@db/relais", "postgresql+asyncpg://u:p@db/relais"),
        ("postgresql+asyncpg://u:p@db/relais", "postgresql+asyncpg://u:p@db/relais"),
        ("postgres://u:p@db/relais?sslmode=require", "postgresql+asyncpg://u:p@db/relais?ssl=require"),
    ],
)
def test_database_urls_map_to_async_drivers(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    assert load_settings().database_url == expected


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=4567\nRELAIS_ADMINS= U1 , U2,,U3\nRELAIS_CHANNEL=C0123\n")
    settings = load_settings()
    assert settings.port == 4567
    assert settings.relais_admins == frozenset({"U1", "U2", "U3"})
    assert settings.relais_channel == "C0123"


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("PORT=4567\n")
    monkeypatch.setenv("PORT", "5000")
    assert load_settings().port == 5000


def test_secrets_never_show_in_repr_or_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-very-secret")
    monkeypatch.setenv("ENCRYPTION_KEY", key)
    settings = load_settings()
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in ("xoxb-very-secret", "signing-very-secret", key):
        assert secret not in shown
    assert settings.slack_configured


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("DATABASE_URL", "mysql://localhost/relais"),
        ("DATABASE_URL", "not a url"),
        ("PUBLIC_URL", "relais.example.com"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token"),
        ("ENCRYPTION_KEY", "too-short"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_malformed_setting_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"{variable} is invalid")
    assert "\n" not in message
    assert "set it in the environment or in .env" in message
    if variable in {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "ENCRYPTION_KEY"}:
        assert value not in message  # never echo a secret back


def test_slack_needs_token_and_signing_secret_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    settings = load_settings()
    assert settings.slack_configured
    with pytest.raises(ConfigError, match=r"^SLACK_SIGNING_SECRET is not set"):
        settings.require_slack()
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN is not set"):
        load_settings().require_slack()
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    load_settings().require_slack()


def test_blank_secret_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "  ")
    assert load_settings().slack_bot_token is None


def test_encryption_key_rotation_decrypts_with_old_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEY", old)
    ciphertext = load_settings().fernet.encrypt(b"token")
    monkeypatch.setenv("ENCRYPTION_KEY", f"{new},{old}")
    rotated = load_settings().fernet
    assert rotated.decrypt(ciphertext) == b"token"
    assert Fernet(new.encode()).decrypt(rotated.encrypt(b"t2")) == b"t2"


def test_missing_encryption_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^ENCRYPTION_KEY is not set.*Fernet"):
        _ = load_settings().fernet


def test_teams_is_off_by_default_and_on_with_an_app_id(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert not settings.teams_configured
    assert settings.microsoft_app_type == "MultiTenant"
    assert settings.teams_openid_metadata_url == (
        "https://login.botframework.com/v1/.well-known/openidconfiguration"
    )
    monkeypatch.setenv("MICROSOFT_APP_ID", " 00000000-aaaa-bbbb-cccc-000000000001 ")
    monkeypatch.setenv("MICROSOFT_APP_PASSWORD", "teams-very-secret")
    monkeypatch.setenv("MICROSOFT_APP_TYPE", "singletenant")
    monkeypatch.setenv("MICROSOFT_APP_TENANT_ID", "tenant-1")
    settings = load_settings()
    assert settings.teams_configured
    assert settings.microsoft_app_id == "00000000-aaaa-bbbb-cccc-000000000001"
    assert settings.microsoft_app_type == "SingleTenant"
    settings.require_teams()
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "teams-very-secret" not in shown


@pytest.mark.parametrize(
    ("app_type", "missing"),
    [
        ("MultiTenant", "MICROSOFT_APP_PASSWORD"),
        ("SingleTenant", "MICROSOFT_APP_PASSWORD"),
        ("UserAssignedMSI", "MICROSOFT_APP_TENANT_ID"),
    ],
)
def test_teams_needs_what_its_app_type_authenticates_with(
    monkeypatch: pytest.MonkeyPatch, app_type: str, missing: str
) -> None:
    monkeypatch.setenv("MICROSOFT_APP_ID", "app-1")
    monkeypatch.setenv("MICROSOFT_APP_TYPE", app_type)
    with pytest.raises(ConfigError, match=rf"^{missing} is not set but MICROSOFT_APP_TYPE is {app_type}:"):
        load_settings().require_teams()


def test_single_tenant_needs_its_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROSOFT_APP_ID", "app-1")
    monkeypatch.setenv("MICROSOFT_APP_PASSWORD", "secret")
    monkeypatch.setenv("MICROSOFT_APP_TYPE", "SingleTenant")
    with pytest.raises(ConfigError, match=r"^MICROSOFT_APP_TENANT_ID is not set"):
        load_settings().require_teams()
    monkeypatch.setenv("MICROSOFT_APP_TYPE", "MultiTenant")
    load_settings().require_teams()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MICROSOFT_APP_TYPE", "Tenantless"),
        ("RELAIS_TEAMS_ANONYMOUS", "perhaps"),
        ("TEAMS_OPENID_METADATA_URL", "login.botframework.com/v1"),
    ],
)
def test_malformed_teams_setting_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=rf"^{variable} is invalid \(") as caught:
        load_settings()
    assert "\n" not in str(caught.value)


def test_a_password_without_an_app_id_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROSOFT_APP_PASSWORD", "teams-very-secret")
    with pytest.raises(
        ConfigError, match=r"^MICROSOFT_APP_ID is not set but MICROSOFT_APP_PASSWORD is set"
    ) as e:
        load_settings()
    assert "teams-very-secret" not in str(e.value)


def test_teams_anonymous_mode_is_refused_with_an_app_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_TEAMS_ANONYMOUS", "true")
    settings = load_settings()
    assert settings.teams_configured
    settings.require_teams()
    monkeypatch.setenv("MICROSOFT_APP_ID", "app-1")
    monkeypatch.setenv("MICROSOFT_APP_PASSWORD", "secret")
    with pytest.raises(
        ConfigError, match=r"^RELAIS_TEAMS_ANONYMOUS is refused because MICROSOFT_APP_ID is set"
    ):
        load_settings()


def test_visitors_keys_take_a_secret_of_the_install_whatever_platform_it_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The install's part of a visitor's key is a secret kept outside the database: a Teams-only
    deployment's app password serves when there is no encryption key nor Slack signing secret."""
    from bot.web import visitor_secret  # the composition root; settings alone do not import it

    bare = visitor_secret(load_settings())
    monkeypatch.setenv("MICROSOFT_APP_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("MICROSOFT_APP_PASSWORD", "a-teams-secret")
    teams = visitor_secret(load_settings())
    monkeypatch.setenv("ENCRYPTION_KEY", Fernet.generate_key().decode())
    assert len({bare, teams, visitor_secret(load_settings())}) == 3


ADMIN_GUID = "0E6F1B2C-4A5D-4E8F-9A1B-2C3D4E5F6A7B"  # a Teams user's Microsoft Entra object id
TENANT_GUID = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"
INSTALLS = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_STATE_SECRET": "state-secret"}


def test_relais_admins_name_a_user_alone_or_with_their_workspace(monkeypatch: pytest.MonkeyPatch) -> None:
    """`<workspace id>:<user id>` makes an admin of that workspace only; an id alone, of any workspace where
    it is met (one workspace with SLACK_BOT_TOKEN). GUIDs compare whatever their case."""
    monkeypatch.setenv("RELAIS_ADMINS", f"U1, T0001:U2 ,{TENANT_GUID}:{ADMIN_GUID}")
    admins = load_settings().relais_admins
    assert admins == frozenset({"U1", "T0001:U2", f"{TENANT_GUID.lower()}:{ADMIN_GUID.lower()}"})
    assert admins_in(admins, "T0001") == frozenset({"U1", "U2"})
    assert admins_in(admins, "T0002") == frozenset({"U1"})
    assert admins_in(admins, TENANT_GUID.lower()) == frozenset({"U1", ADMIN_GUID.lower()})
    # A Bot Framework id holds a colon of its own: alone, it is not read as qualified.
    monkeypatch.setenv("RELAIS_ADMINS", f"29:1abc,{TENANT_GUID}:29:2def")
    admins = load_settings().relais_admins
    assert admins_in(admins, "T0001") == frozenset({"29:1abc"})
    assert admins_in(admins, TENANT_GUID.lower()) == frozenset({"29:1abc", "29:2def"})


@pytest.mark.parametrize("entry", ["T0001:", ":U1", "T0001:U1:U2", "T0001:U 1"])
def test_a_malformed_admin_entry_is_one_line_naming_relais_admins(
    monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    monkeypatch.setenv("RELAIS_ADMINS", f"U1,{entry}")
    with pytest.raises(ConfigError, match=r"^RELAIS_ADMINS is invalid \(.*<workspace id>:<user id>\)") as e:
        load_settings()
    assert "\n" not in str(e.value)
    assert "T012AB3CD:U045EF6GH" in str(e.value)  # how to write one


def test_with_installs_a_slack_admin_must_be_named_with_their_workspace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Installs serve many workspaces, maybe of several companies: a Slack id alone would be an admin in any
    of them. A Teams object id alone stays (it is one tenant's person)."""
    for name, value in INSTALLS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RELAIS_ADMINS", f"T0001:U1,{ADMIN_GUID}")
    assert load_settings().relais_admins == frozenset({"T0001:U1", ADMIN_GUID.lower()})
    monkeypatch.setenv("RELAIS_ADMINS", f"T0001:U1,{ADMIN_GUID},U2")
    with pytest.raises(ConfigError) as e:
        load_settings()
    message = str(e.value)
    assert message.startswith(
        "RELAIS_ADMINS names U2 without its workspace, refused because SLACK_STATE_SECRET"
    )
    assert "<team id>:<user id>, e.g. RELAIS_ADMINS=T012AB3CD:U2" in message
    assert "\n" not in message


def test_relais_refuses_to_start_with_an_admin_without_workspace_under_installs(
    empty_database_url: str,
) -> None:
    """Through the real command: `relais serve` says it in one line and exits 2, before serving anything."""
    from tests.bot.test_cli import assert_one_line_error, relais

    variables = {**INSTALLS, "SLACK_SIGNING_SECRET": "s", "ENCRYPTION_KEY": Fernet.generate_key().decode()}
    result = relais("serve", DATABASE_URL=empty_database_url, RELAIS_ADMINS="U0ADMIN", **variables)
    assert_one_line_error(result, "RELAIS_ADMINS names U0ADMIN without its workspace", "T012AB3CD:U0ADMIN")
