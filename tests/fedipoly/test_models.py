"""The domain models' shared helpers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from fedipoly.models import datetime_from_ms, utc_now


def test_the_clock_reads_utc_now_in_whole_milliseconds() -> None:
    before = datetime.now(UTC)
    now = utc_now()
    after = datetime.now(UTC)
    assert now.tzinfo is UTC
    assert now.microsecond % 1000 == 0  # what every store keeps (BSON dates hold ms)
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= now <= after


def test_milliseconds_since_the_epoch_convert_exactly_until_2106() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    draw = random.Random(7)
    limit = 2**32 * 1000
    samples = [0, 1, 999, limit - 1] + [draw.randrange(limit) for _ in range(100_000)]
    for ms in samples:
        assert datetime_from_ms(ms) == epoch + timedelta(milliseconds=ms), ms
