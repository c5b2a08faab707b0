"""Claims of scheduled job periods: a job runs at most once per (workspace, job, period)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, WorkspaceScoped, str_enum
from models.enums import JobRunState


class JobRun(WorkspaceScoped, Base):
    """Inserting the row is the claim: the unique key makes a second claim of the same period fail."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("workspace_id", "job", "period_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[JobRunState] = mapped_column(
        str_enum(JobRunState, "job_run_state"), default=JobRunState.RUNNING
    )
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class ClockJob(Base):
    """What `relais jobs list` shows of each clock job: its last run (by the clock or `relais jobs run`)
    and, while a clock runs, its next one. One row per job of the deployment."""

    __tablename__ = "clock_job"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime | None]
