"""The core (`bot.core.Relais`), which one middleware puts in Bolt's context for every Slack listener."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.core import Relais

CONTEXT_KEY = "relais"


def relais(context: AsyncBoltContext | dict[str, Any]) -> Relais:
    deps = context[CONTEXT_KEY]
    assert isinstance(deps, Relais)
    return deps
