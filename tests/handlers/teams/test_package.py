"""`relais teams-package`, run as an operator runs it: the zip Teams takes, checked against the manifest's
own JSON schema (vendored in `manifest_schema/`, see its SOURCE.md)."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.flows.commands import SUBCOMMANDS
from handlers.teams import package
from tests.bot.test_cli import assert_one_line_error, relais

SCHEMAS = Path(__file__).with_name("manifest_schema")
APP_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES_WITH_ALPHA = {4, 6}  # grey + alpha, RGBA


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


def validate(document: object, name: str) -> None:
    validator = jsonschema.Draft4Validator(schema(name))
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]
    assert errors == []


def png_header(data: bytes) -> tuple[int, int, int]:
    """Width, height and colour type, from the IHDR chunk every PNG starts with."""
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    width, height, _depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return width, height, colour_type


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The package `relais teams-package` writes, the host given as a URL as an operator may paste it."""
    output = tmp_path_factory.mktemp("package") / "relais.zip"
    result = relais(
        "teams-package",
        "--app-id",
        APP_ID.upper(),
        "--host",
        "https://Relais.Example.com/",
        "-o",
        str(output),
    )
    assert result.returncode == 0, result.stderr
    assert str(output) in result.stdout
    assert result.stderr == ""
    return zipfile.ZipFile(output)


def test_the_zip_holds_the_manifest_its_french_strings_and_two_icons_at_its_root(
    written: zipfile.ZipFile,
) -> None:
    assert sorted(written.namelist()) == ["color.png", "fr.json", "manifest.json", "outline.png"]
    assert written.testzip() is None


def test_the_manifest_is_valid_against_the_schema_of_its_version(written: zipfile.ZipFile) -> None:
    manifest = json.loads(written.read("manifest.json"))
    validate(manifest, "MicrosoftTeams.schema.json")
    assert (
        manifest["manifestVersion"]
        == schema("MicrosoftTeams.schema.json")["properties"]["manifestVersion"]["const"]
    )
    assert manifest["$schema"].endswith(f"/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json")


def test_the_french_strings_are_valid_and_french(written: zipfile.ZipFile) -> None:
    manifest = json.loads(written.read("manifest.json"))
    strings = json.loads(written.read("fr.json"))
    validate(strings, "MicrosoftTeams.Localization.schema.json")
    assert manifest["localizationInfo"] == {
        "defaultLanguageTag": "en",
        "additionalLanguages": [{"languageTag": "fr", "file": "fr.json"}],
    }
    assert strings["description.short"].startswith("Partagez les actualités")
    commands = manifest["bots"][0]["commandLists"]
    for index, listed in enumerate(commands):
        for position, command in enumerate(listed["commands"]):
            key = f"bots[0].commandLists[{index}].commands[{position}].description"
            assert strings[key] == package.command_hint("fr", command["title"])
            assert len(strings[key]) <= 128
    assert strings["bots[0].commandLists[1].commands[0].description"] == "help — cette liste"


def test_the_bot_is_the_azure_bot_in_teams_and_personal_chats_and_the_host_is_its_domain(
    written: zipfile.ZipFile,
) -> None:
    manifest = json.loads(written.read("manifest.json"))
    assert manifest["id"] == APP_ID
    (bot,) = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert sorted(bot["scopes"]) == ["personal", "team"]
    assert bot["isNotificationOnly"] is False
    assert manifest["validDomains"] == ["relais.example.com"]
    assert manifest["developer"]["websiteUrl"] == "https://relais.example.com/"
    assert manifest["developer"]["privacyUrl"] == "https://relais.example.com/"
    assert manifest["name"]["short"] == "Relais"


def test_the_menus_list_every_command_with_its_line_of_the_help(written: zipfile.ZipFile) -> None:
    manifest = json.loads(written.read("manifest.json"))
    lists = {tuple(listed["scopes"]): listed["commands"] for listed in manifest["bots"][0]["commandLists"]}
    assert set(lists) == {("team",), ("personal",)}
    listed = {command["title"] for commands in lists.values() for command in commands}
    # Every subcommand but aliases (`aide` is `help`) is in a menu, and only subcommands are.
    handlers = {SUBCOMMANDS[name] for name in listed}
    assert handlers == set(SUBCOMMANDS.values())
    assert listed <= set(SUBCOMMANDS)
    assert "channel" in {command["title"] for command in lists[("team",)]}
    hints = {command["title"]: command["description"] for commands in lists.values() for command in commands}
    assert hints["me"] == "me — your shares, clicks and rank (help points: how points work)"
    assert hints["resume"] == "pause [weeks], resume, optout — reminders"
    assert hints["queue"].startswith("queue <url> [caption]")
    assert not any("/relais" in hint or "`" in hint for hint in hints.values())
    # Teams' schemas before 1.30 allowed 128 characters; kept to, for older clients' menus.
    assert max(len(hint) for hint in hints.values()) <= 128


def test_the_icons_are_192_colour_and_32_outline_on_transparent(written: zipfile.ZipFile) -> None:
    manifest = json.loads(written.read("manifest.json"))
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert png_header(written.read("color.png"))[:2] == (192, 192)
    width, height, colour_type = png_header(written.read("outline.png"))
    assert (width, height) == (32, 32)
    assert colour_type in COLOUR_TYPES_WITH_ALPHA


def test_the_developer_and_version_can_be_set(tmp_path: Path) -> None:
    manifest = package.build_manifest(
        app_id=APP_ID,
        host="relais.example.com",
        version="2.3.4",
        developer="Example Corp",
        website_url="https://intranet.example.com/relais",
        privacy_url="https://example.com/privacy",
        terms_url="https://example.com/terms",
    )
    validate(manifest, "MicrosoftTeams.schema.json")
    assert manifest["version"] == "2.3.4"
    assert manifest["developer"] == {
        "name": "Example Corp",
        "websiteUrl": "https://intranet.example.com/relais",
        "privacyUrl": "https://example.com/privacy",
        "termsOfUseUrl": "https://example.com/terms",
    }


def test_the_schema_refuses_what_teams_would(written: zipfile.ZipFile) -> None:
    """The check can fail: a manifest without its developer, or with a bot id that is not a GUID."""
    manifest = json.loads(written.read("manifest.json"))
    validator = jsonschema.Draft4Validator(schema("MicrosoftTeams.schema.json"))
    without_developer = {key: value for key, value in manifest.items() if key != "developer"}
    assert not validator.is_valid(without_developer)
    manifest["bots"][0]["botId"] = "relais"
    assert not validator.is_valid(manifest)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--app-id", "not-a-guid", "--host", "relais.example.com"], "not an app id"),
        (["--app-id", APP_ID, "--host", "relais example"], "not a public host name"),
        (["--app-id", APP_ID, "--host", "relais.example.com", "--version", "1.0"], "not a version"),
        (
            ["--app-id", APP_ID, "--host", "relais.example.com", "--privacy-url", "http://x.example"],
            "https://",
        ),
        (["--host", "relais.example.com"], "--app-id"),
    ],
)
def test_bad_arguments_are_one_line_exit_2_and_write_nothing(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    output = tmp_path / "relais.zip"
    assert_one_line_error(relais("teams-package", *args, "-o", str(output)), fragment)
    assert not output.exists()


def test_an_output_that_cannot_be_written_is_one_line_exit_2(tmp_path: Path) -> None:
    output = tmp_path / "missing" / "relais.zip"
    result = relais("teams-package", "--app-id", APP_ID, "--host", "relais.example.com", "-o", str(output))
    assert_one_line_error(result, "cannot write", str(output))


def test_relais_lists_the_command_teams_adds() -> None:
    result = relais("--help")
    assert result.returncode == 0
    assert "teams-package" in result.stdout
