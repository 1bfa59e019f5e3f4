"""How a member's ask becomes a queued clip, whether it came from `/create` or from a clip.

Every way of asking — the slash command, a result button, the Remix form, a 🔁 reaction — goes
through the same three steps, so bounds, defaults and error messages are the same everywhere:

1. read text with `read_text` (a clip's own settings are read back from `to_command_line`,
   the text its result message shows, so a reroll is exactly "that command again":
   `follow_up_spec`); both live in `intake.followups`, shared with the REST API;
2. resolve it against the loaded model with `build_spec`;
3. `admit_request`: bans, the prompt policy, then the member's place under their caps, reserved
   in the order their requests arrived (`bot.intake.line.Place`). Every refusal is private and
   comes before anything public, and before any upload is read (`/animate` and `/restyle`
   call it before the download);
4. `submit_request`: record and enqueue through `Submitter`, posting the public "queued"
   message and saving the `DeliveryTarget` before the job can start, then follow progress. The
   reserved place makes the enqueue certain; if it fails all the same (Redis lost, or a place
   held past its 15 minutes), the public message is edited to say the clip was not queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.deferral import Deferral, settle
from bot.delivery.targets import DEFAULT_UPLOAD_LIMIT, DeliveryTarget, save_target
from bot.intake.line import Place
from bot.intake.tickets import Ticket, admit_request
from bot.messages import not_queued_text, queued_text
from bot.replies import ANSWERED
from core.errors import UserFacingError
from core.spec import RenderSpec
from intake.submit import Submission

if TYPE_CHECKING:
    from bot.app import ReelBot

log = logging.getLogger(__name__)

# Posts the "queued" text where the member will see it; returns that message's id.
PostQueued = Callable[[str], Awaitable[int | None]]


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asks and where the answer goes: the new clip's owner and its delivery target."""

    user_id: int
    display_name: str
    guild_id: int | None
    channel_id: int
    upload_limit: int = DEFAULT_UPLOAD_LIMIT
    role_ids: tuple[int, ...] = ()  # for role-raised limits; none in DMs
    nsfw: bool = False  # asked in a channel marked NSFW (some output-scan holds may be waived)

    @property
    def owner_id(self) -> str:
        return f"discord:{self.user_id}"

    @classmethod
    def of(cls, interaction: discord.Interaction[ReelBot]) -> Asker:
        """The member behind an interaction; the cap is the one Discord sent with it."""
        if interaction.channel_id is None:
            raise UserFacingError("I can't tell which channel this came from; please try again.")
        if interaction.guild_id is not None:
            check_channel_permissions(interaction.app_permissions)
        return cls(
            user_id=interaction.user.id,
            display_name=interaction.user.display_name[:100],
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            upload_limit=interaction.filesize_limit,
            role_ids=role_ids(interaction.user),
            nsfw=is_nsfw(interaction.channel),
        )


def is_nsfw(channel: object) -> bool:
    """Whether Discord marks the channel (or a thread's parent) age-restricted."""
    check = getattr(channel, "is_nsfw", None)
    return bool(check()) if callable(check) else False


def role_ids(user: discord.abc.User | discord.Member) -> tuple[int, ...]:
    """The member's roles as the interaction or reaction carried them (no member cache)."""
    return tuple(role.id for role in getattr(user, "roles", ()))


# What posting a clip here takes: see it, write, attach the MP4, reply to the queued message.
NEEDED = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "attach_files": "Attach Files",
    "read_message_history": "Read Message History",
}


def check_channel_permissions(permissions: discord.Permissions) -> None:
    """Refuse up front where the clip could not be posted, rather than render it for nobody."""
    missing = [label for name, label in NEEDED.items() if not getattr(permissions, name)]
    if missing:
        raise UserFacingError(
            f"I can't post clips in this channel: I'm missing {', '.join(missing)}. "
            "Ask a moderator to give me those here, or try another channel."
        )


class InteractionAnswer:
    """The queued message as the interaction's public answer.

    `acknowledge` runs once a request is screened and within the member's caps: it arms a
    `Deferral`, so Discord's "thinking…" goes out only if the answer is not ready
    `DEFER_AT_S` after the interaction was made (in a burst), and the 3 s deadline is met
    before the slow part (place in line, the gallery row, queueing) either way. Calling the
    answer sends the text, or fills in the "thinking…" message. Refusals are private replies; one
    that comes after a "thinking…" went out (a request that waited 1.5 s in a burst) deletes it
    and follows up privately, so nothing of a refusal stays in the channel.
    """

    def __init__(self, interaction: discord.Interaction[ReelBot]) -> None:
        self.interaction = interaction

    async def acknowledge(self) -> None:
        await Deferral.of(self.interaction).arm()

    async def __call__(self, text: str) -> int | None:
        mentions = discord.AllowedMentions.none()
        await settle(self.interaction)
        if self.interaction.response.is_done():
            message = await self.interaction.edit_original_response(
                content=text, allowed_mentions=mentions
            )
            self.interaction.extras[ANSWERED] = True
            return message.id
        response = await self.interaction.response.send_message(text, allowed_mentions=mentions)
        self.interaction.extras[ANSWERED] = True
        return response.message_id


def reply_with(interaction: discord.Interaction[ReelBot]) -> InteractionAnswer:
    return InteractionAnswer(interaction)


async def submit_request(
    bot: ReelBot,
    spec: RenderSpec,
    asker: Asker,
    post: PostQueued,
    *,
    ticket: Ticket | None = None,
    place: Place | None = None,
    generation_id: str | None = None,
    note: str = "",
    reviewed: bool = False,
) -> Submission:
    """Record and enqueue `spec`; the queued message and the target exist before the job does,
    so a clip can never finish without knowing where it belongs. `generation_id` is for a
    request whose input media was stored under its id first; `note` is a line for the member.

    `ticket` is `admit_request`'s, for a command that admitted the request before reading its
    upload; without one it is admitted here (in `place`, if given). A flagged request is held
    for a moderator (`ReelBot.hold_for_review` raises ContentHeld) instead of queued; an
    approved one comes back here with `reviewed`."""
    if ticket is None:
        ticket = await admit_request(
            bot, spec, asker, place=place, generation_id=generation_id, reviewed=reviewed
        )
    gid = ticket.generation_id
    posted: list[int] = []  # the public message, once it is out
    try:
        if asker.nsfw and (skip := bot.review_config.scan_skip(asker.guild_id)):
            spec = RenderSpec.model_validate({**spec.model_dump(), "scan_skip": skip})
        if ticket.flagged is not None:
            await bot.hold_for_review(spec, asker, ticket.flagged, gid)

        async def answer(submission: Submission) -> None:
            eta_s = await bot.render_times.ready_in(spec, submission.position, submission.tier)
            text = queued_text(asker.user_id, spec, submission.position, note=note, eta_s=eta_s)
            message_id = await post(text)
            if message_id is not None:
                posted.append(message_id)
            target = DeliveryTarget(
                channel_id=asker.channel_id,
                status_message_id=message_id,
                user_id=asker.user_id,
                upload_limit=asker.upload_limit,
            )
            await save_target(bot.admission.pipelined, submission.generation_id, target)

        # Screened, held and over-cap requests were answered privately; the rest are
        # acknowledged publicly before the slow part.
        acknowledge = post.acknowledge if isinstance(post, InteractionAnswer) else None
        submission = await bot.submitter.submit(
            spec,
            reservation=ticket.reservation,
            generation_id=gid,
            role_ids=asker.role_ids,
            after_check=acknowledge,
            before_enqueue=answer,
        )
    except BaseException as exc:  # not queued
        if isinstance(exc, UserFacingError):  # held for review; a place that lapsed
            bot.bot_metrics.refused(exc)
        if ticket.reservation is not None:  # given back (a no-op once the job is queued)
            await asyncio.shield(bot.submitter.release(ticket.reservation))
        if posted:  # said "queued" in public: take it back there too
            await asyncio.shield(withdraw(bot, asker, spec, posted[0], exc))
        raise
    bot.progress_tracker.track(submission.generation_id, spec)
    bot.bot_metrics.accepted()
    return submission


async def withdraw(
    bot: ReelBot, asker: Asker, spec: RenderSpec, message_id: int, error: BaseException
) -> None:
    """Edit a public "queued" answer to say the clip was not queued after all, and why."""
    reason = (
        str(error)
        if isinstance(error, UserFacingError)
        else "something went wrong on my side. Please ask again in a moment."
    )
    channel = bot.get_partial_messageable(asker.channel_id)
    text = not_queued_text(asker.user_id, spec, reason)
    try:
        await channel.get_partial_message(message_id).edit(
            content=text, allowed_mentions=discord.AllowedMentions.none()
        )
    except discord.HTTPException as exc:
        log.warning("could not take back queued answer %s: %r", message_id, exc)
