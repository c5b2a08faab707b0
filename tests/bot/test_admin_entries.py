"""RELAIS_ADMINS entries qualified by an Enterprise Grid organisation (`E…:<user id>`), and entries whose
part before a colon names no workspace: refused at startup in one line naming the entry, where they would
otherwise be read as a bare user id matching nobody."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, admins_in, load_settings
from tests.bot.test_config import ADMIN_GUID, TENANT_GUID


def test_an_admin_named_with_their_organisation_is_admin_in_its_workspaces_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELAIS_ADMINS", "E0001:U2,T0001:U3")
    admins = load_settings().relais_admins
    assert admins == frozenset({"E0001:U2", "T0001:U3"})
    assert admins_in(admins, "T0EAST", "E0001") == frozenset({"U2"})
    assert admins_in(admins, "T0001", "E0001") == frozenset({"U2", "U3"})
    assert admins_in(admins, "T0EAST", "E0009") == frozenset()
    assert admins_in(admins, "T0EAST") == frozenset()  # a workspace of no organisation


@pytest.mark.parametrize(
    "entry",
    ["28:bot1", "29:1abc", f"{TENANT_GUID}:29:2def", f"{TENANT_GUID}:{ADMIN_GUID}", "E0001:W012"],
)
def test_entries_naming_a_workspace_or_a_bot_framework_id_are_accepted(
    monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    monkeypatch.setenv("RELAIS_ADMINS", entry)
    assert len(load_settings().relais_admins) == 1


@pytest.mark.parametrize("entry", ["t0001:U2", "acme:U2", "30:abc", "T0001-x:U2", "e0001:U2"])
def test_an_entry_naming_no_workspace_before_its_colon_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    monkeypatch.setenv("RELAIS_ADMINS", f"T0001:U1,{entry}")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"RELAIS_ADMINS is invalid ('{entry}' names no workspace before its colon")
    assert "\n" not in message


def test_relais_refuses_to_start_with_an_entry_naming_no_workspace(empty_database_url: str) -> None:
    """Through the real command: `relais serve` says it in one line and exits 2, before serving anything."""
    from tests.bot.test_cli import assert_one_line_error, relais

    result = relais("serve", DATABASE_URL=empty_database_url, RELAIS_ADMINS="t0001:U2")
    assert_one_line_error(result, "RELAIS_ADMINS is invalid ('t0001:U2' names no workspace", "T012AB3CD")
