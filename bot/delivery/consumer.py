"""The result consumer: finished clips from the Redis stream to Discord, each posted once.

Workers never talk to Discord. They append a ResultRecord to RESULT_STREAM; this consumer reads
it through a consumer group, posts, records the message id in the gallery row, then acks. A
crash between posting and acking is safe twice over: the gallery row already names the message,
and the post carries a nonce derived from the generation id with `enforce_nonce`, so Discord
returns the message it already made instead of a second one. Records left pending by a crashed
consumer are re-read at start (our own) or claimed after an idle time (another instance's).

A clip a moderator kept from the public while it rendered (a purge, `/mod hide`) is not posted:
its place gets the same one-line notice `bot.moderation.decisions` edits a posted clip to, so a
later Restore / unhide edits that message back into the clip. A clip the output scan held gets
`HELD_NOTE` there the same way; once the notice's id is recorded, `on_scanned` posts the clip
for review (again after a crash: the review message's nonce makes that a no-op), also when the
member's channel is gone or the clip has no Discord target.
A moderator acting while the clip is being posted is caught by reading the row again once the
message id is recorded (the moderator's side edits every message id it sees), so the clip shows
for a moment at most.

Records are delivered side by side in tasks of their own, one post at a time per channel: a
channel whose posts wait on Discord's limits holds up no other. A record being delivered is not
read again meanwhile (retries and XAUTOCLAIM skip it). Before a clip is posted its progress
edits end (`stop_progress`): none lands after it, none is queued ahead of it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import discord
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.exc import OperationalError

from bot.delivery.channel_locks import ChannelLocks
from bot.delivery.eta import work_seconds
from bot.delivery.targets import DeliveryTarget, forget_target, load_target, target_from_spec
from bot.delivery.views import effect_options, result_view
from bot.messages import COMPRESSED, FULL, LINK_ONLY, failed_text, result_text
from bot.metrics import BotMetrics
from bot.moderation.clip_review import HELD_NOTE
from bot.moderation.decisions import HIDDEN_BY_MOD, REMOVED_NOTE
from core.logs import generation_context, generation_id
from core.spec import DEFAULT_QUALITY, Quality, RenderSpec, ResultRecord
from gallery.media import LocalMediaStore
from gallery.models import Generation, Moderation
from gallery.store import GalleryStore
from gallery.web import clip_url
from intake.fleet import FleetChoice
from jobs.admission import Admission
from jobs.keys import RESULT_STREAM
from jobs.results import acknowledge

log = logging.getLogger(__name__)

GROUP = "reelbot-bot"
CLAIM_IDLE_MS = 60_000  # another consumer's pending record is taken over after this long
RETRY_DELAY_S = 5.0
MAX_IN_FLIGHT = 100  # records being delivered at once, all channels together


def message_nonce(generation_id: str) -> str:
    """Discord nonces are at most 25 characters; 100 bits of the id are plenty to be unique."""
    return generation_id[:25]


def moderated_note(moderation: Moderation) -> str | None:
    """What shows instead of a clip the moderators keep from the public; None for a public one
    (held by the output scan, purged, hidden or removed)."""
    if moderation == Moderation.OK:
        return None
    if moderation == Moderation.HELD:
        return HELD_NOTE
    return REMOVED_NOTE if moderation == Moderation.REMOVED else HIDDEN_BY_MOD


class Delivery:
    def __init__(
        self,
        client: discord.Client,
        redis: Redis,
        store: GalleryStore,
        media: LocalMediaStore,
        *,
        public_url: str,
        modes: Sequence[str] = ("t2v",),
        consumer: str = "bot-1",
        admission: Admission | None = None,
        on_scanned: Callable[[Generation, ResultRecord], Awaitable[None]] | None = None,
        stop_progress: Callable[[str], Awaitable[None]] | None = None,
        metrics: BotMetrics | None = None,
        default_quality: Quality = DEFAULT_QUALITY,
        fleet: FleetChoice | None = None,
    ) -> None:
        self.client = client
        self.fleet = fleet  # the other families' modes (✏️ Modify where a wan_vace worker edits)
        self.default_quality = default_quality  # REELBOT_DEFAULT_QUALITY: how lines are read
        self.metrics = metrics or BotMetrics()
        # told of every clip the output scan held or blocked, before its post is recorded
        self.on_scanned = on_scanned
        self.admission = admission  # told of every finished clip: a worker is free
        self.modes = tuple(modes)  # the loaded model's: they decide Extend / Upscale buttons
        self.redis = redis
        self.store = store
        self.media = media
        self.public_url = public_url.rstrip("/")
        self.consumer = consumer
        # told before a clip is posted: its progress edits end (ProgressTracker.finish)
        self.stop_progress = stop_progress
        self._delivering: dict[str, asyncio.Task[None]] = {}  # by stream entry id
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._channels = ChannelLocks()  # one post at a time per channel
        self._retry_at = 0.0  # when this consumer's pending records are read again (inf: none)

    async def run(self) -> None:
        """Deliver forever: first what this consumer left pending, then new and abandoned ones.

        Nothing ends this loop but cancellation: a record that cannot be delivered is logged and
        acknowledged, a transient failure (Redis, the database, Discord 5xx/429) is retried.
        """
        group_ready = False
        try:
            while True:
                try:
                    if not group_ready:
                        await self._ensure_group()
                        group_ready = True
                    if time.monotonic() >= self._retry_at:  # from before a restart, or a failure
                        self._retry_at = math.inf
                        await self._retry_own_pending()
                    await self._claim_abandoned()
                    await self._read_new()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis blip: log, wait, go on; nothing is acked
                    self._retry_at = 0.0
                    if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                        # Redis came back without the stream (restarted without its AOF): make
                        # the group again, or this loop would fail here until the bot restarts.
                        log.warning("the result stream's consumer group is gone; creating it again")
                        group_ready = False
                        continue
                    log.exception("delivery loop failed; retrying in %.0f s", RETRY_DELAY_S)
                    await asyncio.sleep(RETRY_DELAY_S)
        finally:
            tasks = list(self._delivering.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(RESULT_STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read_new(self) -> None:
        replies = await self.redis.xreadgroup(
            GROUP, self.consumer, {RESULT_STREAM: ">"}, count=20, block=2000
        )
        for _stream, entries in replies or []:
            for entry_id, fields in entries:
                await self._start(entry_id, fields)

    async def _retry_own_pending(self) -> None:
        """Every record this consumer read and has not acked, once more (those being delivered
        now aside). One that fails again stays pending for the next pass, RETRY_DELAY_S later,
        and never holds up the records behind it or the new ones: a channel whose posts keep
        failing must not stop every other member's clips."""
        after: Any = "0"
        while True:
            replies = await self.redis.xreadgroup(
                GROUP, self.consumer, {RESULT_STREAM: after}, count=20
            )
            entries = [entry for _stream, page in replies or [] for entry in page]
            if not entries:
                return
            for entry_id, fields in entries:
                after = entry_id
                await self._start(entry_id, fields)

    async def _claim_abandoned(self) -> None:
        reply = await self.redis.xautoclaim(
            RESULT_STREAM, GROUP, self.consumer, min_idle_time=CLAIM_IDLE_MS, count=20
        )
        for entry_id, fields in reply[1]:
            await self._start(entry_id, fields)

    async def _start(self, entry_id: Any, fields: dict[Any, Any] | None) -> None:
        """Deliver the record in a task of its own, unless it is being delivered already; waits
        while MAX_IN_FLIGHT are."""
        key = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        if key in self._delivering:
            return
        await self._slots.acquire()
        task = asyncio.create_task(self._deliver_entry(entry_id, fields), name=f"deliver-{key}")
        self._delivering[key] = task

        def done(_: asyncio.Task[None]) -> None:
            del self._delivering[key]
            self._slots.release()

        task.add_done_callback(done)

    async def _deliver_entry(self, entry_id: Any, fields: dict[Any, Any] | None) -> None:
        try:
            await self._handle(entry_id, fields)
        except Exception:  # transient (Redis, the database, Discord 5xx/429): nothing is acked
            # It stays pending to this consumer, where ">" never reads it again: read those
            # again soon, or it would wait 60 s for XAUTOCLAIM.
            self._retry_at = min(self._retry_at, time.monotonic() + RETRY_DELAY_S)
            log.exception("entry %s: delivery failed; retrying in %.0f s", entry_id, RETRY_DELAY_S)

    async def _handle(self, entry_id: Any, fields: dict[Any, Any] | None) -> None:
        with generation_context(None):  # named once the record is read: its failures too
            await self._handle_entry(entry_id, fields)

    async def _handle_entry(self, entry_id: Any, fields: dict[Any, Any] | None) -> None:
        raw = (fields or {}).get(b"r") or (fields or {}).get("r")
        if raw is None:  # trimmed or malformed: nothing we can deliver
            await self.redis.xack(RESULT_STREAM, GROUP, entry_id)
            return
        try:
            record = ResultRecord.model_validate_json(raw)
            generation_id.set(record.generation_id)
            if self.admission is not None:
                self.admission.kick()
            await self.deliver(record)
        except discord.HTTPException as exc:
            if exc.status >= 500 or exc.status == 429:
                self.metrics.deliveries.labels("retried").inc()
                raise  # transient: leave it pending, it is retried
            self.metrics.deliveries.labels("failed_post").inc()
            log.error("entry %s: Discord refused the post (%s); giving up", entry_id, exc)
        except (RedisError, OSError, aiohttp.ClientError) as exc:
            # aiohttp's: Discord's connection dropped mid-post. Posting again is safe (the nonce).
            if not isinstance(exc, FileNotFoundError):
                raise  # transient: leave it pending, it is retried
            log.error("entry %s: the clip's file is gone (%s); giving up", entry_id, exc)
        except OperationalError:
            raise  # the database is down or locked: transient too, never a reason to drop it
        except Exception:  # a bad record or row must never stop every other delivery
            log.exception("entry %s cannot be delivered; giving up on it", entry_id)
        await acknowledge(self.redis, GROUP, entry_id)  # and trims what every group is done with

    async def deliver(self, record: ResultRecord) -> None:
        gid = record.generation_id
        if self.stop_progress is not None:  # before anything is posted
            await self.stop_progress(gid)
        row = await asyncio.to_thread(self.store.get, gid)
        target = await load_target(self.redis, gid)
        delivered = row is not None and bool(row.discord_message_id)  # read again: learnt once
        if row is not None and not delivered and record.status == "done" and self.admission:
            seconds = work_seconds(row.timings)
            if seconds is not None:  # the scheduler's ETAs learn from every clip
                await self.admission.record_render(RenderSpec.model_validate(row.spec), seconds)
        if row is None:
            return  # made elsewhere (another install's database)
        if target is None and not row.discord_message_id:  # Redis lost it, the row still knows
            target = target_from_spec(RenderSpec.model_validate(row.spec))
        held = record.status == "done" and row.moderation == Moderation.HELD
        blocked = record.status == "failed" and bool(record.review)  # by the output scan
        if target is None or row.discord_message_id:
            # made from the terminal, or posted before a crash: the moderators still get
            # (once: the review message's nonce) what the scan caught
            if held or blocked:
                await self._review(row, record)
            if row.discord_message_id:
                log.info("already posted as %s", row.discord_message_id)
                await forget_target(self.redis, gid)
            return
        spec = RenderSpec.model_validate(row.spec)
        # a clip the scan blocked is a failure the member reads as such
        note = None if blocked else moderated_note(row.moderation)
        if note is not None:
            log.info("kept from the public (%s): posting a notice", row.moderation)
        try:
            async with self._channels.hold(target.channel_id):
                try:
                    message = await self._post(record, spec, target, note=note)
                except discord.HTTPException as exc:
                    if exc.status != 413:
                        raise
                    # the cap shrank since the request (boosts lost): link only
                    message = await self._post(record, spec, target, link_only=True)
        except discord.HTTPException as exc:
            if exc.status in (403, 404):  # the channel or our permissions are gone
                if held or blocked:  # nothing public to link to; the moderators still decide
                    await self._review(row, record)
                else:
                    await self._tell_owner(target, gid)
            raise
        # Recorded before the review message exists, so a moderator's decision always finds
        # the message it turns into the clip.
        await asyncio.to_thread(self.store.set_discord_message, gid, message.id)
        self.metrics.delivered("posted" if note is None else "notice", row.finished_at)
        if held or blocked:
            await self._review(row, record)
        await forget_target(self.redis, gid)
        log.info("posted as message %s", message.id)
        if note is None:
            await self._recheck(gid, message)

    async def _review(self, row: Generation, record: ResultRecord) -> None:
        """Hand a clip the output scan held or blocked to the moderators' side. Its failures
        propagate: a Discord 5xx / 429 or a Redis blip leaves the record pending, retried."""
        if self.on_scanned is not None:
            await self.on_scanned(row, record)

    async def _recheck(self, gid: str, message: discord.Message) -> None:
        """A moderator who hid the clip between our read and the recorded message id did not see
        the message: hide it here (one of the two sides always sees the other's write)."""
        row = await asyncio.to_thread(self.store.get, gid)
        note = moderated_note(row.moderation) if row is not None else None
        if note is None:
            return
        try:
            await message.edit(content=note, attachments=[], view=None)
        except discord.HTTPException as exc:
            log.warning("hidden while posting; message not edited: %s", exc)

    async def _tell_owner(self, target: DeliveryTarget, gid: str) -> None:
        """The channel refused the clip: say so to its owner in a DM, with the gallery link."""
        try:
            user = await self.client.fetch_user(target.user_id)
            await user.send(
                "I couldn't post your clip in that channel (I may be missing permissions "
                f"there). Here it is: {clip_url(self.public_url, gid)}"
            )
        except discord.HTTPException as exc:
            log.warning("could not tell the owner either: %s", exc)

    async def _post(
        self,
        record: ResultRecord,
        spec: RenderSpec,
        target: DeliveryTarget,
        *,
        link_only: bool = False,
        note: str | None = None,
    ) -> discord.Message:
        channel = self.client.get_partial_messageable(target.channel_id)
        mentions = discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(target.user_id)]
        )
        reference = None
        if target.status_message_id:
            reference = discord.MessageReference(
                message_id=target.status_message_id,
                channel_id=target.channel_id,
                fail_if_not_exists=False,
            )
        kwargs: dict[str, Any] = {
            "nonce": message_nonce(record.generation_id),
            "allowed_mentions": mentions,
            "reference": reference,
        }
        if note is not None:  # no clip, no link, no buttons: see `moderated_note`
            kwargs["allowed_mentions"] = discord.AllowedMentions.none()
            return await channel.send(note, **kwargs)
        if record.status == "failed":
            return await channel.send(failed_text(target.user_id, spec, record.message), **kwargs)
        url = clip_url(self.public_url, record.generation_id)
        limit = 0 if link_only else target.upload_limit
        how, file = await asyncio.to_thread(self._attachment, record, spec, limit)
        text = result_text(target.user_id, spec, url, how=how, default_quality=self.default_quality)
        if file is not None:
            kwargs["file"] = file
        effects = effect_options(self.client, spec)  # ✨ Effects, for a clip from a picture
        story = spec.mode == "story"  # 🎬 Retake under a story
        kwargs["view"] = result_view(
            record.generation_id, await self.modes_now(spec.backend), effects, story=story
        )
        return await channel.send(text, **kwargs)

    async def modes_now(self, family: str | None = None) -> tuple[str, ...]:
        """The modes a result's buttons offer: the bot's own family's, and those any family of
        the fleet offers now (an ltx bot with a wan_vace worker shows ✏️ Modify and ↔ Expand);
        no 🔊 Add sound when the workers that would add it to a clip of `family` said their
        sound model is off. A fleet that can't be read leaves the bot's own: a post never
        fails on it."""
        if self.fleet is None:
            return self.modes
        try:
            offered = (await self.fleet.fleet()).offered()
            sound = family is None or await self.fleet.adds_sound(family)
        except Exception:  # a Redis blip: the buttons of the bot's own family
            log.warning("the fleet could not be read; posting with the main family's buttons")
            return self.modes
        more = {mode for modes in offered.values() for mode in modes} - set(self.modes)
        modes = (*self.modes, *sorted(more))
        return modes if sound else tuple(m for m in modes if m != "sound")

    def _attachment(
        self, record: ResultRecord, spec: RenderSpec, limit: int
    ) -> tuple[str, discord.File | None]:
        """The clip if it fits the cap, else its compressed copy, else its poster and a link.

        Blocking: with an S3 store a file this machine lacks is downloaded (if it fits)."""
        name = f"reelbot-{spec.seed}"
        for relative, how in ((record.media_path, FULL), (record.upload_path, COMPRESSED)):
            if relative and (path := self.media.fetch(relative, max_bytes=limit)) is not None:
                return how, discord.File(path, filename=f"{name}.mp4")
        if record.poster_path:
            poster = self.media.fetch(record.poster_path, max_bytes=limit)
            if poster is not None:
                return LINK_ONLY, discord.File(poster, filename=f"{name}.jpg")
        return LINK_ONLY, None
