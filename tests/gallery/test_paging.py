"""Cursors and the trending score: pure, no database."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gallery.paging import HOT_EPOCH, InvalidCursor, Key, Sort, decode, encode, hot_score

GID = "ab" * 16
WHEN = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "key",
    [
        Key(Sort.NEW, GID, finished_at=WHEN),
        Key(Sort.TOP, GID, finished_at=WHEN, likes=12345),
        Key(Sort.TRENDING, GID, score=1234.5678901234567),
        Key(Sort.TRENDING, GID, score=-3.0e-7),
    ],
)
def test_round_trip(key: Key) -> None:
    decoded = decode(encode(key), key.sort)
    assert decoded.generation_id == GID
    assert decoded.finished_at == key.finished_at
    if key.sort is Sort.TOP:
        assert decoded.likes == key.likes
    if key.sort is Sort.TRENDING:
        assert decoded.score == key.score  # exactly: repr round-trips a float


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_finite_score_round_trips(score: float) -> None:
    assert decode(encode(Key(Sort.TRENDING, GID, score=score)), Sort.TRENDING).score == score


@pytest.mark.parametrize(
    ("raw", "sort"),
    [
        ("", Sort.NEW),
        ("x" * 500, Sort.NEW),
        ("!!!!", Sort.TOP),
        (b64(f"top:1:2:{GID}"), Sort.NEW),
        (b64(f"12.{GID}"), Sort.TOP),
        (b64(f"trending:nan:{GID}"), Sort.TRENDING),
        (b64(f"trending:inf:{GID}"), Sort.TRENDING),
        (b64(f"trending:1.0:{GID}\n"), Sort.TRENDING),
        (b64(f"top:1:2:{'AB' * 16}"), Sort.TOP),
        (b64(f"{'9' * 20}.{GID}"), Sort.NEW),
        (b64("top:1:2:x' OR 1=1 --"), Sort.TOP),
    ],
)
def test_garbage_is_refused(raw: str, sort: Sort) -> None:
    with pytest.raises(InvalidCursor):
        decode(raw, sort)


def test_hot_score_trades_likes_for_newness() -> None:
    assert hot_score(0, HOT_EPOCH) == 0
    assert hot_score(9, HOT_EPOCH) == pytest.approx(1.0)
    assert hot_score(99, HOT_EPOCH) == pytest.approx(hot_score(0, HOT_EPOCH + timedelta(hours=25)))
    assert hot_score(1, WHEN) > hot_score(0, WHEN)
    with pytest.raises(ValueError):
        hot_score(-1, WHEN)
    with pytest.raises(ValueError):
        encode(Key(Sort.NEW, GID))
