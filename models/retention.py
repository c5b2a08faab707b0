"""What keeps personal data only as long as it is needed: the daily salts of visitors' keys, and how far
each workspace's old rows have been deleted or folded (`RELAIS_RETENTION_DAYS`, `bot.services.retention`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id


class VisitorSalt(Base):
    """The random salt of one UTC day's visitor keys (`Click.visitor`, keyed by a secret of the install as
    well: `bot.services.links.day_key`), made ahead by the hourly retention job (or by whichever web process
    needs it first). Deleted within the hour after the day ends (`bot.services.retention`): nobody, even
    with the database and every secret of the install, can then tell which address an old key stood for.
    The salt is the install's, not a workspace's: a visitor's address is not any workspace's data."""

    __tablename__ = "visitor_salt"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))


class RetentionHorizon(Base):
    """How far the retention job (`bot.services.retention`) has gone in one workspace. Each is a UTC
    Monday (or None: not yet):

    - `deleted_before`: finished outbox messages and visit tallies stamped before it are gone; the
      dashboard keeps the members reached of those weeks as its aggregates have them
      (`bot.services.analytics`);
    - `folded_before`: counted clicks before it are kept only as weekly rows per link
      (`Click.clicks`);
    - `cleared_before`: clicks before it (any moment, not a Monday) hold no visitor key."""

    __tablename__ = "retention_horizon"

    workspace_id: Mapped[int] = mapped_column(
        Id, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    deleted_before: Mapped[datetime | None]
    folded_before: Mapped[datetime | None]
    cleared_before: Mapped[datetime | None]
