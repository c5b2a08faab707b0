"""Deleting the files Relais uploaded (`/relais mydata`'s copy of a member's data), when the member is
erased: the member cannot delete a file the bot uploaded, only the bot can (`files.delete`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

# `files.delete`'s answers for a file that is no longer there: as good as deleted.
GONE: Final = frozenset({"file_not_found", "file_deleted"})


async def delete_files(client: AsyncWebClient, file_ids: Sequence[str]) -> tuple[str, ...]:
    """Delete files Relais uploaded (`files.delete`: only their uploader may), with `client`, the token of
    the workspace they were sent in; the ids of those Slack deleted now or had deleted already
    (`file_not_found`, `file_deleted`). Any other answer leaves the file at Slack and out of the ids
    returned: a dead token (`not_authed`, `invalid_auth`, `token_revoked`, `account_inactive`: the app
    was uninstalled), `cant_delete_file`, a 5xx or an unreachable Slack. It is logged (never the token)
    and the next file is tried; its id is kept and its deletion tried again later
    (`bot.services.erasure.delete_left_files`)."""
    gone: list[str] = []
    for file_id in file_ids:
        try:
            await client.files_delete(file=file_id)
        except SlackApiError as error:
            code = str(error.response.get("error") or f"HTTP {error.response.status_code}")
            if code in GONE:
                gone.append(file_id)  # deleted by an admin, or by an earlier attempt
                continue
            logger.warning("deleting a file Relais sent failed (%s); it will be tried again", code)
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as error:
            logger.warning(
                "deleting a file Relais sent failed (%s); it will be tried again", type(error).__name__
            )
        else:
            gone.append(file_id)
    return tuple(gone)
