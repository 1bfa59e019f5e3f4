"""From API clips' rows to outbox events: each clip's events written once, in order.

A clip goes queued → started → held / succeeded / failed / cancelled (held → succeeded too,
when a moderator lets a held clip out). The relay reads the clips whose rows changed, works out
which events the row has reached that `api_clip.last_event` hasn't, and writes them in one
transaction with the move of `last_event` (`Outbox.record_events`): a conditional UPDATE, so
several API processes running the relay write each event once between them, and a crash
between reading and writing leaves nothing half done. A clip seen late (the API was down while
it rendered) gets every event it missed, in order; an event is never sent twice nor backwards.

Rows changed since the last poll (less `OVERLAP`, for transactions that committed late) are
read every `poll_s`; every `sweep_s`, and at start, every unfinished API clip is read, so a
change the window missed (clocks apart between processes) is caught within that time. The body
of each event is fixed when written: a retry resends the same bytes under the same webhook-id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timedelta
from typing import Protocol

from api.clipstate import ClipStatus, clip_resource, clip_status
from gallery.apitables import ApiClip
from gallery.models import Generation, utcnow
from gallery.webhook_outbox import NewEvent, Outbox

log = logging.getLogger(__name__)

OVERLAP = timedelta(seconds=5)
PAGE = 200

# Where each event stands in a clip's life; its seq in the outbox (a clip's events go in order).
RANK = {
    "clip.queued": 0,
    "clip.started": 1,
    "clip.held": 2,
    "clip.succeeded": 3,
    "clip.failed": 3,
    "clip.cancelled": 3,
}
EVENT_OF: dict[ClipStatus, str] = {
    "queued": "clip.queued",
    "running": "clip.started",
    "held": "clip.held",
    "succeeded": "clip.succeeded",
    "failed": "clip.failed",
    "cancelled": "clip.cancelled",
}


def events_due(row: Generation, last_event: str) -> list[str]:
    """The events `row` has reached since `last_event` ("" for none yet), in order: the ones
    it passed through on the way included (started, if a worker ever took it)."""
    now = EVENT_OF[clip_status(row)]
    done = RANK.get(last_event, -1)
    if RANK[now] <= done:
        return []
    due = ["clip.queued"]
    if row.started_at is not None or now == "clip.started":
        due.append("clip.started")
    if now != "clip.queued" and now not in due:
        due.append(now)
    return [event for event in due if RANK[event] > done]


def payload(event: str, data: dict[str, object], at: datetime) -> str:
    """The exact body sent for `event` (compact JSON, written once)."""
    body = {"type": event, "timestamp": at.isoformat(timespec="milliseconds"), "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class Links(Protocol):
    """Where a clip's links point (the `ApiContext`): read when an event is written."""

    public_url: str
    api_url: str


class Relay:
    """Reads changed API clips and writes their new events to the outbox (`run`)."""

    def __init__(
        self, outbox: Outbox, links: Links, *, poll_s: float = 0.5, sweep_s: float = 30.0
    ) -> None:
        self.outbox = outbox
        self.links = links
        self.poll_s = poll_s
        self.sweep_s = sweep_s

    async def run(self) -> None:
        """Relay until cancelled; a failure (the database away) is logged and retried."""
        since: datetime | None = None  # None: read every unfinished clip (at start, each sweep)
        next_sweep = time.monotonic() + self.sweep_s
        while True:
            started = utcnow()
            try:
                await asyncio.to_thread(self.relay_changed, since)
            except Exception:
                log.exception("webhook relay failed; retrying")
                since = None
            else:
                since = started - OVERLAP
            if time.monotonic() >= next_sweep:
                since, next_sweep = None, time.monotonic() + self.sweep_s
            await asyncio.sleep(self.poll_s)

    def relay_changed(self, since: datetime | None) -> int:
        """Write the events of every clip changed since `since` (None: every unfinished one);
        how many events were written."""
        written, after = 0, ""
        while True:
            page = self.outbox.clips_to_relay(changed_since=since, after_id=after, limit=PAGE)
            for row, clip in page:
                written += self.relay_one(row, clip)
            if len(page) < PAGE:
                return written
            after = page[-1][1].generation_id

    def relay_one(self, row: Generation, clip: ApiClip) -> int:
        """Write the clip's new events (none if another process did first); how many."""
        due = events_due(row, clip.last_event)
        if not due:
            return 0
        data = clip_resource(row, clip, self.links.public_url, api_url=self.links.api_url)
        at = utcnow()
        events = [NewEvent(event, RANK[event], payload(event, data, at)) for event in due]
        if not self.outbox.record_events(clip, after=clip.last_event, last=due[-1], events=events):
            return 0
        log.info("clip %s: webhook events %s written", row.id, ", ".join(due))
        return len(due)
