"""What every benchmark of `python3 dev.py bench` hands back: figures, each with its target.

A benchmark module (`tests/benchmarks/bench_*.py`) exposes `measure(options: Options) -> list[Figure]`.
It runs its measurement `options.repeats` times and reports the median as `value`, every run's value in
`runs`. `tests/benchmarks/run.py` calls each module, prints one table (figure, target, pass/fail) and
writes the same figures as JSON to `bench-results.json`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Comparison = Literal[">=", "<=", "=="]


@dataclass(frozen=True)
class Options:
    """How to measure. `postgres_url`: a PostgreSQL database the benchmark may DROP and recreate tables
    in (None: PostgreSQL figures are reported as not measured). `quick`: smaller sizes and shorter runs,
    to check the benchmark works, not to quote its figures. `work_dir`: a scratch directory."""

    repeats: int
    quick: bool
    postgres_url: str | None
    work_dir: Path


@dataclass(frozen=True)
class Figure:
    """One measured figure against its target. `passed` is None for a figure without a target (shown
    for context, e.g. the bare Bolt app's throughput) or one that could not be measured (`note` says
    why)."""

    group: str  # e.g. "share click", "fan-out", "leaderboard", "memory"
    name: str  # e.g. "open link, first contacts, 50 concurrent, SQLite: throughput vs bare Bolt"
    value: float | None
    unit: str  # "×", "ms", "%", "/s", "s", "count"
    target: str  # human-readable, e.g. "≥ 0.7×"; "" when there is none
    passed: bool | None
    runs: list[float] = field(default_factory=list)
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def median_figure(
    group: str,
    name: str,
    runs: Sequence[float],
    unit: str,
    *,
    comparison: Comparison | None = None,
    bound: float | None = None,
    note: str = "",
) -> Figure:
    """The median of `runs`, checked against `bound` with `comparison` (no bound: a context figure)."""
    value = statistics.median(runs) if runs else None
    target, passed = "", None
    if comparison is not None and bound is not None:
        target = f"{_SYMBOLS[comparison]} {_number(bound)}{_unit(unit)}"
        if value is not None:
            passed = _CHECKS[comparison](value, bound)
    return Figure(group, name, value, unit, target, passed, [float(run) for run in runs], note)


def not_measured(group: str, name: str, unit: str, target: str, why: str) -> Figure:
    return Figure(group, name, None, unit, target, None, [], why)


_CHECKS: dict[Comparison, Callable[[float, float], bool]] = {
    ">=": lambda value, bound: value >= bound,
    "<=": lambda value, bound: value <= bound,
    "==": lambda value, bound: value == bound,
}


_SYMBOLS: dict[Comparison, str] = {">=": "≥", "<=": "≤", "==": "="}


def _unit(unit: str) -> str:
    """ "≥ 0.7×", "≤ 10%", "≤ 100 ms", "= 0" (a count needs no unit)."""
    return "" if unit == "count" else unit if unit in ("×", "%") else f" {unit}"


def _number(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value:,.0f}"
