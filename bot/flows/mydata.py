"""`/relais mydata`, whatever the chat platform: the member gets, privately, the file of everything Relais
holds about them (`bot.services.mydata`) and a short summary of it.

A platform that can put a file in the member's private chat with Relais says so by having `send_file`
(`SendsFiles`: Slack's upload); the others (Teams: a bot cannot simply attach a file in a 1:1 chat) give
the same summary with a button to `PUBLIC_URL/me/data`, where the member, signed in, downloads the same
file (`bot.mydata_page`). The button is offered on every platform, as a second way.

The document is read in one read transaction that is closed before the file is sent: no transaction
is open across the platform's upload. A failed upload is said plainly, with the download button. The
ids of the files sent are kept afterwards, in a transaction of their own, for the member's erasure to
delete the files; a member erased while their file went up is no longer there to keep them for: the
file is deleted at once, and they are told their data is erased.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bot.core import Relais
from bot.flows.caller import Refusal
from bot.flows.invocation import Invocation
from bot.messages import Inline, Message
from bot.messages import mydata as mydata_messages
from bot.messages.commands import say
from bot.services import erasure, mydata
from bot.services.erasure import DeletesFiles

logger = logging.getLogger(__name__)

DOWNLOAD_PATH = "/me/data"


@dataclass(frozen=True)
class PrivateFile:
    """A file for one person's eyes: its name, bytes and title, and the line that comes with it."""

    name: str
    content: bytes
    title: str
    comment: Inline


class FileNotSent(Exception):
    """The platform did not take the file (its error is logged where it happened). `permanent`: no retry
    can work until an admin acts (the app lacks a permission, uploads are disabled)."""

    def __init__(self, *, permanent: bool = False) -> None:
        super().__init__("permanent" if permanent else "transient")
        self.permanent = permanent


@runtime_checkable
class SendsFiles(Protocol):
    """A chat surface that can put a file in a member's private chat with Relais."""

    async def send_file(self, member: str, file: PrivateFile) -> tuple[str, ...]:
        """Send `file` to the member (the platform's user id) in their private chat with Relais; the ids
        of the files the platform now keeps (remembered, so that erasing the member deletes them). Raises
        `FileNotSent`. Called outside any transaction: it is a network call."""
        ...


async def document(core: Relais, *, workspace_id: int, member_id: int) -> dict[str, Any] | None:
    """The member's document (None: no such member in that workspace), read in a session of its own,
    closed on return."""
    async with core.sessions() as session:
        return await mydata.member_data(
            session,
            workspace_id=workspace_id,
            member_id=member_id,
            base_url=core.settings.base_url,
            now=core.clock.now(),
        )


def encoded(found: dict[str, Any]) -> bytes:
    """The file's bytes: indented UTF-8 JSON, readable in a text editor as well as by a program."""
    return (json.dumps(found, ensure_ascii=False, indent=2) + "\n").encode()


async def _remembered(core: Relais, workspace_id: int, member_id: int, file_ids: tuple[str, ...]) -> bool:
    """The ids of the files just sent kept for a later erasure, in a transaction of its own after the
    upload (none is open across it); False when the member was erased meanwhile (the ids are kept all the
    same, on the erased placeholder, until the files are gone: `mydata.remember_files`)."""
    async with core.sessions() as session:
        kept = await mydata.remember_files(
            session, workspace_id=workspace_id, member_id=member_id, file_ids=file_ids, now=core.clock.now()
        )
        await session.commit()
    return kept


def download_url(core: Relais) -> str:
    return core.settings.base_url + DOWNLOAD_PATH


async def mydata_command(run: Invocation) -> Message:
    """`mydata`: the file to the member's private chat where the platform can, and the summary."""
    caller, core = run.caller, run.core
    found = await document(core, workspace_id=caller.workspace.id, member_id=caller.member.id)
    if found is None:  # the member was created before the command ran: only a concurrent erasure
        raise Refusal("something_went_wrong")
    name = mydata.file_name(core.clock.now())
    delivery: mydata_messages.Delivery = "download"
    if isinstance(run.surface, SendsFiles):
        file = PrivateFile(
            name=name,
            content=encoded(found),
            title=name,
            comment=mydata_messages.file_comment(run.lang),
        )
        try:
            sent = await run.surface.send_file(caller.member.external_id, file)
        except FileNotSent as failed:
            delivery = "refused" if failed.permanent else "failed"
        else:
            delivery = "sent"
            if not await _remembered(core, caller.workspace.id, caller.member.id, sent):
                # Erased while the file went up: the erasure did not see it, so it goes now (what Slack
                # fails to delete is kept for the clock to try again), and the member is told their data
                # is erased, never that a file was sent.
                if isinstance(run.surface, DeletesFiles):
                    gone = await run.surface.delete_files(caller.workspace.id, sent)
                    await erasure.forget_files(core.sessions, caller.workspace.id, gone)
                return say(run.lang, "forget_me_done")
    return mydata_messages.summary(
        run.lang, mydata.counts(found), delivery=delivery, file_name=name, download_url=download_url(core)
    )
