"""The Discord bot: resources made in `run_bot`, passed in, used by the cogs."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import discord
from arq.connections import ArqRedis
from discord import app_commands
from discord.ext import commands

from bot.delivery.consumer import Delivery
from bot.delivery.eta import RenderTimes
from bot.delivery.member_notices import MemberNotices
from bot.delivery.progress import ProgressTracker
from bot.gateway_guard import guard_parsers
from bot.intake.line import Intake
from bot.metrics import BotMetrics, RateLimitLog
from bot.moderation.api_reviews import ApiReviews
from bot.moderation.clip_review import Rescans, on_scanned
from bot.moderation.config import ReviewConfig
from bot.moderation.gate import hold
from bot.replies import answer_error
from bot.settings import BotSettings
from core.capabilities import capabilities_for
from core.errors import UserFacingError
from core.limits import Limits
from core.policy import Policy, default_policy
from core.rendercaps import Capabilities
from core.spec import DEFAULT_QUALITY, Quality, StylePreset
from core.stylefile import StyleFile
from core.styles import DEFAULT_STYLES
from gallery.community import CommunityStore
from gallery.db import make_engine, migrate
from gallery.media import LocalMediaStore
from gallery.mediastore import make_media_store
from gallery.moderation import ModerationStore
from gallery.store import GalleryStore
from intake.caches import Bans, DefaultFlags
from intake.media.checks import UploadChecks
from intake.submit import Submitter, connect_queue
from intake.toxicity import ToxicityCheck
from jobs.admission import Admission

log = logging.getLogger(__name__)
# Connections to Discord's API kept open at most: each carries one request at a time, so this
# many in flight (at ~50 ms a round trip, well over 1,000 answers a second) before requests wait.
DISCORD_CONNECTIONS = 100

# One module per concern, each with `async def setup(bot)`; loaded in this order.
COGS: tuple[str, ...] = (
    "bot.cogs.create",
    "bot.cogs.animate",
    "bot.cogs.frames",
    "bot.cogs.speak",
    "bot.cogs.story",
    "bot.cogs.restyle",
    "bot.cogs.settings",
    "bot.cogs.info",
    "bot.cogs.gallery",
    "bot.cogs.remix",
    "bot.cogs.moderation",
    "bot.cogs.api",
    "bot.cogs.styles",
    "bot.cogs.effect",
    "bot.cogs.encrypt",
    "bot.cogs.characters",
    "bot.cogs.edit",
)


class ReelTree(app_commands.CommandTree["ReelBot"]):
    """Every command failure becomes a private reply (see `bot.replies`)."""

    async def on_error(
        self, interaction: discord.Interaction[ReelBot], error: app_commands.AppCommandError
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        await answer_error(interaction, cause)


class ReelBot(commands.Bot):
    def __init__(
        self,
        *,
        queue: ArqRedis,
        store: GalleryStore,
        media: LocalMediaStore,
        capabilities: Capabilities,
        public_url: str,
        limits: Limits | None = None,
        styles: Mapping[str, StylePreset] = DEFAULT_STYLES,
        policy: Policy | None = None,
        review: ReviewConfig | None = None,
        toxicity: ToxicityCheck | None = None,
        sync_commands: bool = True,
        default_quality: Quality = DEFAULT_QUALITY,
        **discord_options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_reactions = True
        intents.dm_reactions = True
        self.bot_metrics = BotMetrics()  # always: call sites need no check; served by run_bot
        discord_options.setdefault("http_trace", self.bot_metrics.http_trace())
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=ReelTree,
            **discord_options,
        )
        guard_parsers(self._connection.parsers)  # a malformed event is dropped, not fatal
        # No attribute is named like a module of bot/ or core/ (`review_config`, not `review`),
        # so a dotted name in this code reads as either a module or a part of the bot, never both.
        self.queue = queue
        self.store = store
        self.community = CommunityStore(store.engine)
        self.media_store = media
        self.model_capabilities = capabilities  # what the loaded model can do
        self.default_quality = default_quality  # REELBOT_DEFAULT_QUALITY: neither -fast nor -hq
        self.style_presets = styles
        self.prompt_policy = policy or default_policy()  # compiled once per process
        self.review_config = review or ReviewConfig()
        self.toxicity_check = toxicity  # None: off (the word lists alone decide)
        self.moderation_store = ModerationStore(store.engine)
        # Intake holds a flagged request through this: moderation imports intake (an approved
        # request is submitted again), so intake may not import moderation's gate.
        self.hold_for_review = functools.partial(hold, self)
        # what every /create reads, kept a few seconds (see `intake.caches` for how stale)
        self.default_flags = DefaultFlags(self.community)
        self.bans = Bans(self.moderation_store)
        self.admission = Admission(queue)
        self.submitter = Submitter(queue, store, self.admission, limits=limits)
        self.intake_line = Intake()  # requests in progress at once, first come first served
        self.upload_checks = UploadChecks()  # pictures and videos judged off the default executor
        self.render_times = RenderTimes(queue, self.admission)  # the ETAs of queued answers
        self.progress_tracker = ProgressTracker(self, queue, store)
        self.deliverer = Delivery(
            self,
            queue,
            store,
            media,
            public_url=public_url,
            # the optional buttons: those of the modes (Extend, Upscale…), Loop where it loops
            modes=(*capabilities.all_modes, *(("loop",) if capabilities.loop else ())),
            admission=self.admission,
            on_scanned=functools.partial(on_scanned, self),
            stop_progress=self.progress_tracker.finish,
            metrics=self.bot_metrics,
            default_quality=default_quality,
            fleet=self.submitter.fleet,
        )
        self.rescans = Rescans(self)  # reported clips a worker scans again
        self.notice_dms = MemberNotices(self, queue)  # DMs other processes ask for (the API)
        self.api_review_posts = ApiReviews(self, queue)  # requests the API held, to the moderators
        self.sync_commands = sync_commands
        self._background: list[asyncio.Task[None]] = []

    async def login(self, token: str) -> None:
        # discord.py's own connector has no limit: in a burst every answer opens a new TLS
        # connection to Discord, and the handshakes cost more CPU than the answers.
        if self.http.connector is discord.utils.MISSING:
            # per host: attachment downloads (the CDN) never take the API's connections
            self.http.connector = aiohttp.TCPConnector(limit=0, limit_per_host=DISCORD_CONNECTIONS)
        await super().login(token)

    async def setup_hook(self) -> None:
        for extension in COGS:
            await self.load_extension(extension)
        if self.sync_commands:
            await self.tree.sync()
        loops = (self.deliverer.run, self.progress_tracker.run, self.admission.run)
        for loop in (*loops, self.notice_dms.run, self.api_review_posts.run):
            task = asyncio.create_task(loop(), name=loop.__qualname__)
            task.add_done_callback(_report_death)
            self._background.append(task)
        await self.progress_tracker.resume()

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.progress_tracker.close()
        await self.rescans.close()
        self.upload_checks.close()
        await super().close()


def _report_death(task: asyncio.Task[None]) -> None:
    """The background loops end only when cancelled; anything else is a bug worth shouting."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("%s stopped", task.get_name(), exc_info=task.exception())


async def start_settled(bot: ReelBot, token: str) -> None:
    """`bot.start(token)`, with what start-up made moved out of the garbage collector's sight.

    Start-up's objects (modules, cogs, the policy, caches) live as long as the process, so a
    burst's collections need only walk what the burst made (measured: gen-2 time 103 → 17 ms in
    a 1,000-request burst). Only for a process that runs one bot: a frozen object is never
    collected, so a process that starts and closes bots (the tests) would keep them all.
    """
    await bot.login(token)  # runs setup_hook
    gc.collect()
    gc.freeze()
    await bot.connect()


async def run_bot(settings: BotSettings, *, redis_url: str, public_url: str) -> None:
    """Connect everything, then run the bot until it is closed."""
    if settings.discord_token is None:
        raise UserFacingError("Set REELBOT_DISCORD_TOKEN to your bot's token to run the bot.")
    queue = await connect_queue(redis_url)
    engine = make_engine(settings.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    # about a second to load the model, once; None when off or not installed
    toxicity = await asyncio.to_thread(ToxicityCheck.load, settings.toxicity_threshold)
    if toxicity is not None:
        log.info("toxicity check on: prompts scoring %.2f or more are held", toxicity.threshold)
    bot = ReelBot(
        queue=queue,
        store=GalleryStore(engine),
        media=make_media_store(settings),
        capabilities=capabilities_for(settings.backend),
        public_url=public_url,
        limits=settings.limits(),
        # REELBOT_STYLES_FILE's styles and effects for the family the workers run
        styles=StyleFile.from_file(settings.styles_file).menu(settings.backend),
        policy=Policy.from_file(settings.policy_file),
        review=ReviewConfig(
            channel_id=settings.mod_review_channel_id,
            moderator_role_ids=frozenset(settings.moderator_role_ids),
            report_threshold=settings.report_threshold,
            nsfw_scan_skip={g: tuple(c) for g, c in settings.scan_nsfw_skip.items()},
        ),
        toxicity=toxicity,
        default_quality=settings.default_quality,
    )
    rate_limits = RateLimitLog(bot.bot_metrics)
    logging.getLogger("discord").addHandler(rate_limits)
    endpoint = None
    try:
        if settings.bot_metrics_port is not None:
            try:
                endpoint = await bot.bot_metrics.serve(settings.bot_metrics_port)
            except OSError as exc:  # a port in use must not keep the bot away
                log.error("metrics not served on port %d: %s", settings.bot_metrics_port, exc)
        async with bot:
            await start_settled(bot, settings.discord_token.get_secret_value())
    finally:
        logging.getLogger("discord").removeHandler(rate_limits)
        if endpoint is not None:
            await endpoint.stop()
        await queue.aclose()
        engine.dispose()
