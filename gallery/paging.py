"""The gallery's orders and their page cursors: pure, no database.

Every public list is paged by keyset: a page ends at a row, the cursor names that row's sort key,
and the next page is "rows strictly after this key in this order". Each order has its own key:

- new: (finished_at, id)
- top: (like_count, finished_at, id), optionally within the last day or week
- trending: (hot_score, id), where `hot_score` is Reddit's "hot" formula, a fixed function of a
  clip's likes and finish time. It needs no periodic recompute: a newer clip starts higher, and
  every tenfold more likes is worth HOT_HALF_LIFE_S more seconds of newness. It changes only
  when the likes do, and is stored then, so it can be indexed and paged like any column.

Cursors are URL-safe base64 of the key with the order's name in front, so a cursor made for one
order (or edited by hand) is refused instead of quietly giving a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import enum
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.ids import GENERATION_ID_PATTERN

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The zero of the trending score; any fixed moment works, a recent one keeps the numbers small.
HOT_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
# Seconds of newness worth ten times the likes (12.5 hours, as Reddit's).
HOT_HALF_LIFE_S = 45_000.0
# The largest integer either database compares with a BIGINT column (SQLite's INTEGER is the
# same 64 bits): a cursor naming a bigger one is refused here, never sent to overflow there.
MAX_BIGINT = 2**63 - 1


class Sort(enum.StrEnum):
    NEW = "new"
    TOP = "top"
    TRENDING = "trending"


class Period(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    ALL = "all"

    def since(self, now: datetime) -> datetime | None:
        """The earliest finish time this period covers, or None for all time."""
        if self is Period.DAY:
            return now - timedelta(days=1)
        if self is Period.WEEK:
            return now - timedelta(days=7)
        return None


class InvalidCursor(ValueError):
    """A page cursor that this gallery did not make (edited, truncated or from elsewhere)."""


def hot_score(likes: int, finished_at: datetime) -> float:
    """Trending order: log10(1 + likes) plus newness in units of HOT_HALF_LIFE_S."""
    if likes < 0:
        raise ValueError(f"likes={likes} cannot be negative")
    age = (finished_at - HOT_EPOCH).total_seconds()
    return math.log10(1 + likes) + age / HOT_HALF_LIFE_S


@dataclass(frozen=True, slots=True)
class Key:
    """A row's position in one order. `likes` only for top, `score` only for trending."""

    sort: Sort
    generation_id: str
    finished_at: datetime | None = None
    likes: int | None = None
    score: float | None = None


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _moment(micros: str) -> datetime:
    try:
        return EPOCH + timedelta(microseconds=int(micros))
    except OverflowError as exc:
        raise InvalidCursor("cursor time is out of range") from exc


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def encode(key: Key) -> str:
    """The opaque cursor for "rows after this one" in `key.sort`'s order."""
    if key.sort is Sort.TRENDING:
        if key.score is None or not math.isfinite(key.score):
            raise ValueError(f"generation {key.generation_id} has no trending score to page from")
        return _b64(f"trending:{key.score!r}:{key.generation_id}")
    if key.finished_at is None:
        raise ValueError(f"generation {key.generation_id} has no finished_at to page from")
    micros = _micros(key.finished_at)
    if key.sort is Sort.TOP:
        return _b64(f"top:{key.likes or 0}:{micros}:{key.generation_id}")
    # The newest-first cursor keeps the format it had before the other orders existed.
    return _b64(f"{micros}.{key.generation_id}")


_ID = f"({GENERATION_ID_PATTERN})"
_PATTERNS = {
    Sort.NEW: re.compile(rf"([0-9]{{1,20}})\.{_ID}"),
    Sort.TOP: re.compile(rf"top:([0-9]{{1,12}}):([0-9]{{1,20}}):{_ID}"),
    Sort.TRENDING: re.compile(
        rf"trending:(-?[0-9]{{1,20}}(?:\.[0-9]{{1,20}})?(?:e[-+]?[0-9]{{1,3}})?):{_ID}"
    ),
}


def decode(cursor: str, sort: Sort) -> Key:
    """Parse a cursor from `encode` for `sort`; raise `InvalidCursor` for anything else."""
    if not cursor or len(cursor) > 120:
        raise InvalidCursor("cursor has the wrong length")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor("cursor is not valid base64") from exc
    match = _PATTERNS[sort].fullmatch(raw)
    if match is None:
        raise InvalidCursor(f"cursor is not a page position in the {sort} order")
    if sort is Sort.NEW:
        return Key(sort, match[2], finished_at=_moment(match[1]))
    if sort is Sort.TOP:
        return Key(sort, match[3], finished_at=_moment(match[2]), likes=int(match[1]))
    score = float(match[1])
    if not math.isfinite(score):
        raise InvalidCursor("cursor score is out of range")
    return Key(sort, match[2], score=score)


_POSITION = re.compile(r"fts:([0-9]{1,19})")
_DIGITS = re.compile(r"[0-9]{1,19}")


def encode_position(position: int) -> str:
    """A cursor for SQLite search pages: the position in the full-text index (insert order)."""
    return _b64(f"fts:{position}")


def decode_position(cursor: str) -> int:
    if not cursor or len(cursor) > 40:
        raise InvalidCursor("cursor has the wrong length")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor("cursor is not valid base64") from exc
    match = _POSITION.fullmatch(raw)
    if match is None:
        raise InvalidCursor("cursor is not a search position")
    return bounded(match[1])


def bounded(digits: str) -> int:
    """ASCII digits as an int a database can compare (0 to MAX_BIGINT), else `InvalidCursor`.

    `str.isdigit` and `int` also take digits such as "²" or "٣", so the check is a pattern."""
    if not _DIGITS.fullmatch(digits) or int(digits) > MAX_BIGINT:
        raise InvalidCursor("cursor is not a whole number a page can start from")
    return int(digits)
