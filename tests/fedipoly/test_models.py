"""The domain models' shared helpers."""

from __future__ import annotations

from datetime import UTC, datetime

from fedipoly.models import utc_now


def test_the_clock_reads_utc_now_in_whole_milliseconds() -> None:
    before = datetime.now(UTC)
    now = utc_now()
    after = datetime.now(UTC)
    assert now.tzinfo is UTC
    assert now.microsecond % 1000 == 0  # what every store keeps (BSON dates hold ms)
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= now <= after
