"""Schedule expressions as EventBridge and EventBridge Scheduler read them, and the thread that fires them.

`rate(5 minutes)`, `cron(0 3 * * ? *)` (AWS's six fields: minutes, hours, day of month, month, day of week
1-7 = SUN-SAT, year; with `, - * / ?`, `L` in the day of month and `#` in the day of week) and Scheduler's
one-time `at(2030-01-01T09:00:00)`. A rate counts from when the schedule was created (here: when the local
cloud started), as on AWS.
"""

from __future__ import annotations

import re
import threading
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Schedule", "ScheduleError", "Scheduler", "next_fire"]

MONTHS = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
WEEKDAYS = {name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


class ScheduleError(ValueError):
    """An expression the local cloud cannot read."""


def next_fire(expression: str, after: datetime, created: datetime, timezone: str = "UTC") -> datetime | None:
    """The first time strictly after `after` the expression fires (None for a past one-time schedule)."""
    expression = expression.strip()
    found = re.fullmatch(r"(rate|cron|at)\((.*)\)", expression)
    if found is None:
        raise ScheduleError(f"not a schedule expression: {expression!r}")
    kind, argument = found.groups()
    if kind == "rate":
        amount, _, unit = argument.strip().partition(" ")
        if unit not in RATE_UNITS or not amount.isdigit() or int(amount) <= 0:
            raise ScheduleError(f"not a rate: {expression!r}")
        period = int(amount) * RATE_UNITS[unit]
        periods = int((after - created).total_seconds() // period) + 1
        return created + timedelta(seconds=periods * period)
    zone = ZoneInfo(timezone)
    if kind == "at":
        when = datetime.fromisoformat(argument).replace(tzinfo=zone).astimezone(UTC)
        return when if when > after else None
    return _next_cron(argument, after.astimezone(zone)).astimezone(UTC)


def _values(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    result: set[int] = set()
    for part in text.split(","):
        for name, number in (names or {}).items():
            part = part.replace(name, str(number))
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            start_text, end_text = part.split("-")
            start, end = int(start_text), int(end_text)
        else:
            start = int(part)
            end = high if step > 1 else start
        if not low <= start <= high or not low <= end <= high:
            raise ScheduleError(f"{text!r} is out of range {low}-{high}")
        result.update(range(start, end + 1, step))
    return result


def _next_cron(fields_text: str, after: datetime) -> datetime:
    fields = fields_text.split()
    if len(fields) != 6:
        raise ScheduleError(f"cron needs six fields, got {fields_text!r}")
    minute_f, hour_f, dom_f, month_f, dow_f, year_f = (f.upper() for f in fields)
    if "W" in dom_f:
        raise ScheduleError("the W (nearest weekday) wildcard is not supported locally")
    minutes = sorted(_values(minute_f, 0, 59))
    hours = sorted(_values(hour_f, 0, 23))
    months = _values(month_f, 1, 12, MONTHS)
    years = _values(year_f, 1970, 2199)

    def day_matches(day: datetime) -> bool:
        if day.year not in years or day.month not in months:
            return False
        weekday = (day.isoweekday() % 7) + 1  # AWS: 1 = Sunday
        if dom_f != "?":
            last = monthrange(day.year, day.month)[1]
            if dom_f == "L":
                return day.day == last
            if day.day not in _values(dom_f, 1, 31):
                return False
        if dow_f != "?":
            if "#" in dow_f:
                name, nth = dow_f.split("#")
                wanted = WEEKDAYS.get(name) or int(name)
                return weekday == wanted and (day.day - 1) // 7 + 1 == int(nth)
            if dow_f.endswith("L"):
                wanted = WEEKDAYS.get(dow_f[:-1]) or int(dow_f[:-1])
                return weekday == wanted and day.day + 7 > monthrange(day.year, day.month)[1]
            if weekday not in _values(dow_f, 1, 7, WEEKDAYS):
                return False
        return True

    day = after.replace(hour=0, minute=0, second=0, microsecond=0)
    for _ in range(366 * 30):
        if day_matches(day):
            for hour in hours:
                for minute in minutes:
                    candidate = day.replace(hour=hour, minute=minute)
                    if candidate > after:
                        return candidate
        day += timedelta(days=1)
    raise ScheduleError(f"cron({fields_text}) never fires")


@dataclass
class Schedule:
    """One schedule of the stack: `fire(time)` hands the event to its target."""

    name: str
    expression: str
    fire: Callable[[datetime], None]
    timezone: str = "UTC"
    created: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    next_at: datetime | None = None
    fired: int = 0


class Scheduler(threading.Thread):
    """Fires every schedule at its times; `fire_now` fires one at once (the console's button, tests)."""

    def __init__(self, schedules: list[Schedule], report_error: Callable[[str], None]) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.schedules = {schedule.name: schedule for schedule in schedules}
        self._report_error = report_error
        self._wake = threading.Event()
        self._stopping = threading.Event()

    def run(self) -> None:
        now = datetime.now(UTC)
        for schedule in self.schedules.values():
            schedule.next_at = next_fire(schedule.expression, now, schedule.created, schedule.timezone)
        while not self._stopping.is_set():
            pending = [s for s in self.schedules.values() if s.next_at is not None]
            if not pending:
                self._stopping.wait()
                return
            soonest = min(pending, key=lambda s: s.next_at or now)
            assert soonest.next_at is not None
            wait = (soonest.next_at - datetime.now(UTC)).total_seconds()
            if wait > 0:
                self._stopping.wait(min(wait, 60))
                continue
            self._fire(soonest, soonest.next_at)
            soonest.next_at = next_fire(
                soonest.expression, soonest.next_at, soonest.created, soonest.timezone
            )

    def fire_now(self, name: str) -> None:
        schedule = self.schedules[name]
        self._fire(schedule, datetime.now(UTC).replace(microsecond=0))

    def _fire(self, schedule: Schedule, when: datetime) -> None:
        try:
            schedule.fire(when)
            schedule.fired += 1
        except Exception as exc:
            self._report_error(f"schedule {schedule.name} could not fire: {exc!r}")

    def stop(self) -> None:
        self._stopping.set()
