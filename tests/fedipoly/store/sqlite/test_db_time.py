"""Times are stored as fixed-width UTC text, so ordering the text orders the times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fedipoly.models import utc_now
from fedipoly.store.sqlite.core import from_db_time, to_db_time

MOMENT = datetime(2026, 11, 27, 3, 4, 5, 678000, tzinfo=UTC)


@pytest.mark.parametrize(
    "same_instant",
    [
        MOMENT,
        MOMENT.astimezone(timezone(timedelta(hours=5, minutes=30))),
        MOMENT.astimezone(timezone(timedelta(hours=-8))),
        MOMENT.astimezone(timezone(timedelta(0), "GMT")),  # zero offset, another object
    ],
    ids=["UTC", "UTC+05:30", "UTC-08:00", "GMT"],
)
def test_an_instant_is_written_as_utc_with_microseconds_whatever_its_zone(
    same_instant: datetime,
) -> None:
    assert to_db_time(same_instant) == "2026-11-27T03:04:05.678000Z"


def test_whole_seconds_keep_their_microseconds_so_the_width_is_fixed() -> None:
    assert to_db_time(MOMENT.replace(microsecond=0)) == "2026-11-27T03:04:05.000000Z"


def test_the_text_reads_back_as_the_same_instant() -> None:
    now = utc_now()
    assert from_db_time(to_db_time(now)) == now
    assert from_db_time(to_db_time(now)).tzinfo is not None
