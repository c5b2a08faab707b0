"""`/relais help`: what the caller may do, in their language."""

from __future__ import annotations

from handlers.slack.blocks import Blocks, section
from handlers.slack.text import t


def build_help(lang: str, *, admin: bool, lead: str | None = None) -> tuple[str, Blocks]:
    parts = [lead] if lead else []
    parts += [t(lang, "help_title"), t(lang, "help_employee")]
    if admin:
        parts.append(t(lang, "help_admin"))
    return "\n".join(parts), [section(part) for part in parts]
