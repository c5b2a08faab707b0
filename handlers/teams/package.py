"""`relais teams-package`: the Teams app package, the zip an admin uploads to Teams so people can add
Relais — `manifest.json` (schema 1.30, what the Microsoft 365 Agents Toolkit's templates use), French
strings in `fr.json`, and the two icons of `handlers/teams/app/` (how they were drawn: `ICONS.md` there).

Its texts come from the catalogues (`bot/i18n`): the app's names and descriptions, and each command's
line of the help as its hint in the compose box's menu. It needs no setting and imports no SDK, so it
can run on the operator's laptop before anything is deployed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from bot.flows.commands import SUBCOMMANDS
from bot.i18n import LANGUAGES, Language, template
from handlers.teams.text import COMMAND

SCHEMA_VERSION: Final = "1.30"
SCHEMA_URL: Final = (
    f"https://developer.microsoft.com/en-us/json-schemas/teams/v{SCHEMA_VERSION}/MicrosoftTeams.schema.json"
)
LOCALIZATION_SCHEMA_URL: Final = (
    f"https://developer.microsoft.com/en-us/json-schemas/teams/v{SCHEMA_VERSION}/"
    "MicrosoftTeams.Localization.schema.json"
)
ACCENT_COLOR: Final = "#1F3A5F"  # the colour icon's background, as in the Slack app's manifest
ICONS: Final = ("color.png", "outline.png")
DEFAULT_OUTPUT: Final = "relais-teams.zip"
DEFAULT_DEVELOPER: Final = "Relais"

# The commands each scope's menu lists (Teams: at most 12 a list), every subcommand in one at least:
# a team's menu leads with what admins do in a channel, a 1:1 chat's with what each person does.
TEAM_COMMANDS: Final = (
    "help",
    "queue",
    "channel",
    "schedule",
    "list",
    "cancel",
    "stats",
    "dashboard",
    "me",
    "suggest",
)
PERSONAL_COMMANDS: Final = (
    "help",
    "me",
    "mydata",
    "suggest",
    "connect",
    "disconnect",
    "pause",
    "resume",
    "optout",
    "lang",
    "forget-me",
    "queue",
)
COMMAND_LISTS: Final = ((("team",), TEAM_COMMANDS), (("personal",), PERSONAL_COMMANDS))

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_HOST = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]")
_SEMVER = re.compile(r"(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)")
_HELP_LINE = re.compile(r"^• (?P<line>.*)$", re.MULTILINE)


class PackageCommand:
    """`relais teams-package` (entry point `relais.commands`)."""

    help = "write the Teams app package (the zip to upload to Teams)"
    description = (
        "Write the Teams app package: manifest.json (schema 1.30) naming the Azure Bot --app-id as its bot "
        "and --host as its domain, with its icons and French strings. Upload the zip in Teams (Apps → "
        "Manage your apps → Upload an app) or in the Teams admin center. Needs no setting."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--app-id",
            required=True,
            type=_app_id,
            metavar="GUID",
            help="the Microsoft App ID of the Azure Bot (MICROSOFT_APP_ID); also the Teams app's id",
        )
        parser.add_argument(
            "--host",
            required=True,
            type=_host,
            help="the public host name Teams reaches Relais at (that of PUBLIC_URL), e.g. relais.example.com",
        )
        parser.add_argument(
            "--output",
            "-o",
            type=Path,
            default=Path(DEFAULT_OUTPUT),
            metavar="ZIP",
            help=f"where to write the package (default: {DEFAULT_OUTPUT})",
        )
        parser.add_argument(
            "--version",
            type=_version,
            default=None,
            metavar="X.Y.Z",
            help="the app's version; Teams updates an uploaded app only to a higher one "
            "(default: Relais's own version)",
        )
        parser.add_argument(
            "--developer-name",
            default=DEFAULT_DEVELOPER,
            type=_developer_name,
            metavar="NAME",
            help=f"who the app's details name as its developer, 32 characters at most "
            f"(default: {DEFAULT_DEVELOPER})",
        )
        parser.add_argument(
            "--website-url",
            type=_https_url,
            metavar="URL",
            help="the developer's page in the app's details (default: https://HOST/)",
        )
        parser.add_argument(
            "--privacy-url", type=_https_url, metavar="URL", help="your privacy notice (default: the website)"
        )
        parser.add_argument(
            "--terms-url", type=_https_url, metavar="URL", help="your terms of use (default: the website)"
        )

    def run(self, args: argparse.Namespace) -> int:
        website = args.website_url or f"https://{args.host}/"
        manifest = build_manifest(
            app_id=args.app_id,
            host=args.host,
            version=args.version or relais_version(),
            developer=args.developer_name,
            website_url=website,
            privacy_url=args.privacy_url or website,
            terms_url=args.terms_url or website,
        )
        try:
            write_package(args.output, manifest)
        except OSError as error:
            print(f"relais: error: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
            return 2
        print(f"Wrote {args.output}: upload it to Teams (Apps → Manage your apps → Upload an app).")
        return 0


def build_manifest(
    *,
    app_id: str,
    host: str,
    version: str,
    developer: str,
    website_url: str,
    privacy_url: str,
    terms_url: str,
) -> dict[str, Any]:
    """The manifest, in English; `localized("fr")` holds its French strings."""
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": SCHEMA_VERSION,
        "version": version,
        "id": app_id,
        "localizationInfo": {
            "defaultLanguageTag": "en",
            "additionalLanguages": [
                {"languageTag": lang, "file": f"{lang}.json"} for lang in LANGUAGES if lang != "en"
            ],
        },
        "developer": {
            "name": developer,
            "websiteUrl": website_url,
            "privacyUrl": privacy_url,
            "termsOfUseUrl": terms_url,
        },
        "name": {"short": "Relais", "full": template("en", "app_name_full")},
        "description": {
            "short": template("en", "app_description_short"),
            "full": template("en", "app_description_full"),
        },
        "icons": {"color": ICONS[0], "outline": ICONS[1]},
        "accentColor": ACCENT_COLOR,
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team"],
                "isNotificationOnly": False,
                "supportsFiles": False,
                "supportsCalling": False,
                "supportsVideo": False,
                "commandLists": [
                    {
                        "scopes": list(scopes),
                        "commands": [
                            {"title": name, "description": command_hint("en", name)} for name in names
                        ],
                    }
                    for scopes, names in COMMAND_LISTS
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [host],
    }


def localized(lang: Language) -> dict[str, str]:
    """The manifest's strings in `lang`, keyed by their place in it (Teams' localization file)."""
    strings = {
        "$schema": LOCALIZATION_SCHEMA_URL,
        "name.short": "Relais",
        "name.full": template(lang, "app_name_full"),
        "description.short": template(lang, "app_description_short"),
        "description.full": template(lang, "app_description_full"),
    }
    for index, (_, names) in enumerate(COMMAND_LISTS):
        for position, name in enumerate(names):
            strings[f"bots[0].commandLists[{index}].commands[{position}].description"] = command_hint(
                lang, name
            )
    return strings


def command_hint(lang: Language, name: str) -> str:
    """The help's line that names `name`, as a person types it in Teams: no `/relais`, no backticks
    (`me — your shares, clicks and rank …`)."""
    if name not in SUBCOMMANDS:
        raise KeyError(name)
    for key in ("help_employee", "help_admin"):
        for found in _HELP_LINE.finditer(template(lang, key, command=COMMAND)):
            line = found["line"]
            named = line.split(" — ", 1)[0]  # the commands the line is about, before what they do
            if re.search(rf"`{re.escape(name)}[ `]", named):
                return line.replace("`", "")
    raise KeyError(f"the help names no {name!r}")


def write_package(path: Path, manifest: dict[str, Any]) -> None:
    """The zip, every file at its root as Teams requires."""
    icons = resources.files("handlers.teams") / "app"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", _json(manifest))
        for lang in LANGUAGES:
            if lang != "en":
                package.writestr(f"{lang}.json", _json(localized(lang)))
        for icon in ICONS:
            package.writestr(icon, (icons / icon).read_bytes())


def relais_version() -> str:
    """Relais's own version, as a Teams manifest version (three numbers)."""
    try:
        found = version("relais")
    except PackageNotFoundError:
        return "1.0.0"
    numbers = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", found)
    if numbers is None:
        return "1.0.0"
    return ".".join(str(int(part or 0)) for part in numbers.groups())


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def _app_id(value: str) -> str:
    if not _GUID.fullmatch(value.strip()):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an app id like 00000000-0000-0000-0000-000000000000 (the Azure Bot's "
            "Microsoft App ID)"
        )
    return value.strip().lower()


def _host(value: str) -> str:
    """A host name; a URL gives its host (`https://relais.example.com/` → `relais.example.com`)."""
    given = value.strip()
    host = (urlsplit(given).hostname if "//" in given else given.rstrip("/")) or ""
    host = host.lower()
    if not _HOST.fullmatch(host):
        raise argparse.ArgumentTypeError(f"{value!r} is not a public host name like relais.example.com")
    return host


def _version(value: str) -> str:
    if not _SEMVER.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a version like 1.0.0")
    return value


def _developer_name(value: str) -> str:
    if not value.strip() or len(value.strip()) > 32:
        raise argparse.ArgumentTypeError(f"{value!r}: a developer name has 1 to 32 characters")
    return value.strip()


def _https_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{value!r} is not an https:// address")
    return value.strip()
