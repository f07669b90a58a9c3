"""Schedule expressions as EventBridge reads them: rates from the creation time, AWS's cron, at()."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from localcloud.schedules import ScheduleError, next_fire

CREATED = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)  # a Monday


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("rate(1 minute)", CREATED, at(2026, 3, 2, 10, 1, 30)),
        ("rate(5 minutes)", at(2026, 3, 2, 10, 7), at(2026, 3, 2, 10, 10, 30)),
        ("rate(2 hours)", CREATED, at(2026, 3, 2, 12, 0, 30)),
        ("cron(0 3 * * ? *)", CREATED, at(2026, 3, 3, 3, 0)),
        ("cron(15 10 * * ? *)", CREATED, at(2026, 3, 2, 10, 15)),
        ("cron(0/20 * * * ? *)", at(2026, 3, 2, 10, 41), at(2026, 3, 2, 11, 0)),
        ("cron(0 9 ? * MON-FRI *)", at(2026, 3, 6, 10, 0), at(2026, 3, 9, 9, 0)),  # Friday -> Monday
        ("cron(0 9 ? * 1 *)", CREATED, at(2026, 3, 8, 9, 0)),  # 1 is Sunday
        ("cron(0 0 L * ? *)", CREATED, at(2026, 3, 31, 0, 0)),
        ("cron(0 12 ? * 2#1 *)", at(2026, 3, 2, 13, 0), at(2026, 4, 6, 12, 0)),  # the first Monday of April
        ("cron(30 8 1 JAN,JUL ? 2027)", CREATED, at(2027, 1, 1, 8, 30)),
        ("at(2026-03-02T12:00:00)", CREATED, at(2026, 3, 2, 12, 0)),
        ("at(2026-03-01T12:00:00)", CREATED, None),
    ],
)
def test_the_next_time_an_expression_fires(
    expression: str, after: datetime, expected: datetime | None
) -> None:
    assert next_fire(expression, after, CREATED) == expected


def test_a_cron_in_a_time_zone_fires_at_that_zones_hour() -> None:
    assert next_fire("cron(0 9 * * ? *)", CREATED, CREATED, "Europe/Amsterdam") == at(2026, 3, 3, 8, 0)


@pytest.mark.parametrize(
    "expression", ["rate(0 minutes)", "rate(1 fortnight)", "cron(0 3 * * ?)", "every day"]
)
def test_what_is_not_an_expression_is_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        next_fire(expression, CREATED, CREATED)
