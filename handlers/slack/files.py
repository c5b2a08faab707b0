"""Deleting the files Relais uploaded (`/relais mydata`'s copy of a member's data), when the member is
erased: the member cannot delete a file the bot uploaded, only the bot can (`files.delete`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)


async def delete_files(client: AsyncWebClient, file_ids: Sequence[str]) -> int:
    """Delete files Relais uploaded (`files.delete`: only their uploader may); how many Slack deleted or
    already had deleted. A failure is logged (never the token) and the next file is tried."""
    deleted = 0
    for file_id in file_ids:
        try:
            await client.files_delete(file=file_id)
        except SlackApiError as error:
            code = str(error.response.get("error") or "")
            if code in ("file_not_found", "file_deleted"):
                deleted += 1  # gone already (deleted by an admin, or by an earlier erasure)
                continue
            logger.warning("deleting a file Relais sent failed (%s); its id is forgotten anyway", code)
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as error:
            logger.warning(
                "deleting a file Relais sent failed (%s); its id is forgotten anyway", type(error).__name__
            )
        else:
            deleted += 1
    return deleted
