"""A request the REST API held for a moderator (its policy flagged the prompt), handed to the
bot, which alone can post in the review channel: a short Redis stream.

The API writes the generation row (moderation "held") before it appends here, so the entry
carries only what the review message shows besides the row: the rule that flagged it and what
it matched. The stream is capped (`MAXLEN`, trimmed roughly) like `jobs.member_notices`: an
install that runs no bot must not grow it forever. The bot reads it in a consumer group and
acknowledges each entry once the message is posted (`bot.moderation.api_reviews`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from jobs.keys import REVIEW_REQUESTS_STREAM

__all__ = ["MAX_REQUESTS", "ReviewRequest", "request_review"]

MAX_REQUESTS = 10_000
MAX_FIELD = 500  # a review message is at most 2,000 characters


@dataclass(frozen=True)
class ReviewRequest:
    """What the review message says about why a request was held."""

    generation_id: str
    rule: str
    category: str
    reason: str
    matched: str = ""
    field: str = ""

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> ReviewRequest:
        return cls(
            generation_id=fields.get("generation_id", ""),
            rule=fields.get("rule", ""),
            category=fields.get("category", ""),
            reason=fields.get("reason", ""),
            matched=fields.get("matched", ""),
            field=fields.get("field", ""),
        )


async def request_review(redis: Redis, request: ReviewRequest) -> str:
    """Queue `request` for the bot's review channel; the stream entry's id."""
    fields: dict[FieldT, EncodableT] = {
        name: str(value)[:MAX_FIELD] for name, value in asdict(request).items()
    }
    entry = await redis.xadd(
        REVIEW_REQUESTS_STREAM,
        fields,
        maxlen=MAX_REQUESTS,
        approximate=True,
    )
    return entry.decode() if isinstance(entry, bytes) else str(entry)
