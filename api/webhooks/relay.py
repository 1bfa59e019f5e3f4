"""From API clips' rows to outbox events: each clip's events written once, in order.

A clip goes queued → started → held / succeeded / failed / cancelled (held → succeeded too,
when a moderator lets a held clip out). The relay reads the clips whose rows changed, works out
which events the row has reached that `api_clip.last_event` hasn't, and writes them with the
move of `last_event`, a page of clips in one transaction (`EventWriter.record_many`): a
conditional UPDATE per clip, so several API processes running the relay write each event once
between them, and a crash between reading and writing leaves nothing half done. A clip with
nowhere to send its events (no `webhook_url`, no enabled endpoint on its token: most clips)
only has its `last_event` moved, with no body built for it. A clip seen late (the API was down while
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
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol, cast

from api.clipstate import ClipStatus, clip_resource, clip_status
from gallery.models import Generation, utcnow
from gallery.webhook_events import ClipState, EventMove, NewEvent
from gallery.webhook_outbox import Outbox

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


def events_due(row: Generation | ClipState, last_event: str) -> list[str]:
    """The events `row` has reached since `last_event` ("" for none yet), in order: the ones
    it passed through on the way included (started, if a worker ever took it)."""
    # A ClipState has the very fields clip_status reads (status, error, moderation).
    now = EVENT_OF[clip_status(cast(Generation, row))]
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
        self,
        outbox: Outbox,
        links: Links,
        *,
        poll_s: float = 0.5,
        sweep_s: float = 30.0,
        on_written: Callable[[], None] = lambda: None,
    ) -> None:
        self.outbox = outbox
        self.links = links
        self.poll_s = poll_s
        self.sweep_s = sweep_s
        self.on_written = on_written  # told when a pass wrote events (the delivery loop)

    async def run(self) -> None:
        """Relay until cancelled; a failure (the database away) is logged and retried."""
        since: datetime | None = None  # None: read every unfinished clip (at start, each sweep)
        next_sweep = time.monotonic() + self.sweep_s
        while True:
            started = utcnow()
            try:
                written = await asyncio.to_thread(self.relay_changed, since)
            except Exception:
                log.exception("webhook relay failed; retrying")
                since = None
            else:
                since = started - OVERLAP
                if written:
                    self.on_written()
            if time.monotonic() >= next_sweep:
                since, next_sweep = None, time.monotonic() + self.sweep_s
            await asyncio.sleep(self.poll_s)

    def relay_changed(self, since: datetime | None) -> int:
        """Write the events of every clip changed since `since` (None: every unfinished one);
        how many events were written for a target."""
        written, after = 0, ""
        while True:
            page = self.outbox.clips_to_relay(changed_since=since, after_id=after, limit=PAGE)
            written += self.relay_page(page)
            if len(page) < PAGE:
                return written
            after = page[-1].generation_id

    def relay_page(self, page: Sequence[ClipState]) -> int:
        """Write the new events of a page of clips in one transaction (none for a clip another
        process moved first); how many were written for a target."""
        due = {c.generation_id: (c, names) for c in page if (names := events_due(c, c.last_event))}
        if not due:
            return 0
        targeted = self.outbox.targeted_tokens(
            {clip.token_id for clip, _ in due.values() if not clip.webhook_url}
        )
        moves = [
            EventMove(clip.generation_id, clip.token_id, None, clip.last_event, names[-1])
            for clip, names in due.values()
            if not clip.webhook_url and clip.token_id not in targeted
        ]
        moves += self.built(
            gid for gid, (c, _) in due.items() if c.webhook_url or c.token_id in targeted
        )
        moved, late = self.outbox.record_many(moves)
        if late:  # an endpoint was added since `targeted` was read: their bodies after all
            again = self.built(move.generation_id for move in late)
            moved += self.outbox.record_many(again)[0]
            moves += again
        built = {move.generation_id: move.events for move in moves if move.events}
        for gid in moved:
            if gid in built:
                said = ", ".join(new.event for new in built[gid])
                log.info("clip %s: webhook events %s written", gid, said)
        return sum(len(built[gid]) for gid in moved if gid in built)

    def built(self, generation_ids: Iterable[str]) -> list[EventMove]:
        """The steps of these clips, read whole again, with their events' bodies (a clip that
        moved on since is judged as it is now)."""
        moves = []
        for row, clip in self.outbox.clips(set(generation_ids)):
            due = events_due(row, clip.last_event)
            if not due:
                continue
            data = clip_resource(row, clip, self.links.public_url, api_url=self.links.api_url)
            at = utcnow()
            events = [NewEvent(event, RANK[event], payload(event, data, at)) for event in due]
            moves.append(
                EventMove(
                    clip.generation_id,
                    clip.token_id,
                    clip.webhook_url,
                    clip.last_event,
                    due[-1],
                    events,
                )
            )
        return moves
