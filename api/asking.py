"""A clip asked through the API, taken in the order and with the code Discord uses:

1. read the request for the loaded model (`intake.followups`: the same reader as the slash
   options and inline flags, then the member's /settings defaults); a follow-up of a clip reads
   that clip's own line back (`follow_up_spec`);
2. screen it (`intake.screening`: bans, policy, the classifier) and hold the member's place
   under their caps (`Submitter.reserve`), before the upload is checked or stored;
3. check the upload (`intake.media`, on the process pool) and store it under the new id, so no
   worker can pick up a job without it;
4. record and queue it (`Submitter.submit`), noting the token (and its webhook URL) before the
   job exists, so the clip's first event already knows where it goes.

A member is `discord:<id>` whichever front end asks, so their API and Discord clips share one
set of caps and one place in the fair queue. `ask_clip` is what `POST /v1/clips` and a batch's
feeder both call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

from api.askers import NOT_FOUND, ApiAsker, Draft, settings_given, visible_to
from api.context import ApiContext
from api.editing import EDIT_ACTIONS, edit_draft, stray_edit_fields
from api.problems import Problem
from api.reading import Asked, Upload
from api.referencing import with_characters
from api.schemas import ClipRequest
from api.speaking import speak_draft
from api.webhooks.addresses import AddressPolicy, AddressRefused, check_url
from core.flags import ParsedPrompt
from core.policy import PolicyDecision
from core.rendercaps import Capabilities
from core.spec import RenderSpec
from gallery.api_clips import ApiClipNew
from gallery.apitables import ApiToken
from gallery.models import GenerationCreate, Moderation
from intake.followups import (
    FollowUp,
    build_spec,
    follow_up_spec,
    merge_settings,
    read_defaults,
    read_text,
)
from intake.modes import (
    PICTURE_DECIDES,
    VIDEO_DECIDES,
    animate_prompt,
    fitted_to_video,
    framed_for_picture,
    refuse_movement,
    require_mode,
)
from intake.screening import screen, when_utc
from intake.stories import as_story, check_story, read_story, require_story
from intake.submit import Reservation, Submission, new_generation_id
from jobs.review_requests import ReviewRequest, request_review

NEEDS_REVIEW = (
    "This prompt needs a moderator's review, which a batch can't ask for; send it alone with "
    "POST /v1/clips and it is held for a moderator."
)
SYSTEM = "system"  # the moderator of record for a hold, as the bot's


@dataclass(frozen=True)
class Accepted:
    generation_id: str
    spec: RenderSpec
    position: int
    eta_s: float | None
    notes: list[str] = field(default_factory=list)
    held: bool = False  # waiting for a moderator, not in the queue


def webhook_policy(ctx: ApiContext) -> AddressPolicy:
    return AddressPolicy(
        allow_http=ctx.settings.api_webhook_allow_http,
        allow_private=ctx.settings.api_webhook_allow_private,
    )


def checked_webhook(ctx: ApiContext, url: str | None) -> str | None:
    if url is None:
        return None
    try:
        return str(check_url(url, webhook_policy(ctx)))
    except AddressRefused as exc:
        raise Problem(422, "Webhook URL refused", str(exc), "bad-webhook-url") from None


async def _defaults(ctx: ApiContext, owner_id: str) -> ParsedPrompt | None:
    text = await ctx.default_flags.get(owner_id)
    return read_defaults(text, ctx.model_capabilities, ctx.style_presets)


async def _family_for(ctx: ApiContext, upload: Upload | None) -> Capabilities:
    """The capabilities of the model family that makes a request with this upload (or none)."""
    mode = "t2v" if upload is None else "i2v" if upload.kind == "image" else "v2v"
    return await ctx.submitter.fleet.family_for(mode, ctx.model_capabilities)


async def draft_spec(ctx: ApiContext, token: ApiToken, asked: Asked) -> Draft:
    """The spec as far as the request settles it before its upload is checked (the upload
    decides only the shape), and what checks and stores the upload once the member is let in."""
    req, upload, asker = asked.request, asked.upload, ApiAsker.of(token)
    caps, styles = ctx.model_capabilities, ctx.style_presets
    if req.action not in EDIT_ACTIONS and (stray := stray_edit_fields(req)):
        raise Problem(
            422,
            "Only for an edit",
            f"{stray} go with an edit: `from` and `action` modify, expand, add or swap.",
            "edit-fields",
        )
    if req.speak:
        return await speak_draft(ctx, token, asked)
    if asked.voice is not None or req.say is not None:
        raise Problem(
            422,
            "Only for /speak",
            "A `voice` file or a `say` line makes a picture speak: send them with `speak` "
            "true and an `image`.",
            "speak-fields",
        )
    if req.ref is not None and (req.story or upload is not None or req.from_ or req.action):
        raise Problem(
            422,
            "Only with a prompt",
            "`ref` names saved characters for a clip made from a prompt alone (as /create's "
            "-ref): send it without `from`, `action`, `story` or a file.",
            "ref-alone",
        )
    if req.story:
        return Draft(await _story_spec(ctx, token, asked))
    if req.action in EDIT_ACTIONS:
        return await edit_draft(ctx, token, req, upload)
    if req.from_ is not None or req.action is not None:
        return Draft(await _follow_up(ctx, token, req, upload))
    in_guild = token.guild_id is not None
    options = settings_given(req)
    defaults = await _defaults(ctx, asker.owner_id)
    caps = await _family_for(ctx, upload)  # sized for the family of the fleet that makes it
    if upload is not None and upload.kind == "image":
        require_mode(caps, "i2v", "animate pictures")
        parsed = read_text(animate_prompt(req.prompt), caps, styles)
        decided: tuple[str, ...] = PICTURE_DECIDES
    elif upload is not None:
        require_mode(caps, "v2v", "restyle videos")
        if not req.prompt:
            raise Problem(
                422,
                "Prompt needed",
                "A video needs a `prompt`: the new look, like “a watercolor painting”.",
                "prompt-needed",
            )
        parsed = read_text(req.prompt, caps, styles)
        decided = VIDEO_DECIDES
    else:
        if not req.prompt or not req.prompt.strip():
            raise Problem(
                422,
                "Prompt needed",
                'Say what to see: send a `prompt`, like {"prompt": "a fox in the snow -motion 3"}.',
                "prompt-needed",
            )
        parsed = read_text(req.prompt, caps, styles)
        decided = ()
    parsed = merge_settings(
        parsed,
        options,
        hide=req.hide,
        in_guild=in_guild,
        defaults=defaults,
        capabilities=caps,
        styles=styles,
        decided=decided,
    )
    if upload is not None and upload.kind == "video":
        refuse_movement(parsed)
    if upload is None:
        return await with_characters(ctx, token, req, parsed, caps)
    spec = build_spec(parsed, asker, caps, default_quality=ctx.default_quality)
    framed = parsed

    async def finish(gid: str) -> tuple[RenderSpec, list[str]]:
        made, note = await _with_upload(ctx, token, framed, upload, gid)
        return made, [line for line in note.splitlines() if line]

    return Draft(spec, finish=finish)


async def _story_spec(ctx: ApiContext, token: ApiToken, asked: Asked) -> RenderSpec:
    """`"story": true`: the prompt read as /story reads it (its shots, each with its own flags,
    and the story's), the settings fields and /settings defaults applied to the whole story;
    one spec, a clip per shot against the daily cap (`core.story.cost`)."""
    req, asker = asked.request, ApiAsker.of(token)
    if asked.upload is not None or req.from_ is not None or req.action is not None:
        raise Problem(
            422,
            "Not with a story",
            "A story starts from its text here: send `prompt` and `story` without `from`, "
            "`action` or a file.",
            "story-alone",
        )
    if not req.prompt or not req.prompt.strip():
        raise Problem(
            422,
            "Prompt needed",
            'A story needs its shots: send a `prompt` like "a fox wakes | the fox runs".',
            "prompt-needed",
        )
    caps = await ctx.submitter.fleet.family_for("story", ctx.model_capabilities)
    require_story(caps)
    told = read_story(req.prompt, caps, ctx.style_presets)
    parsed = merge_settings(
        told.story,
        settings_given(req),
        hide=req.hide,
        in_guild=token.guild_id is not None,
        defaults=await _defaults(ctx, asker.owner_id),
        capabilities=caps,
        styles=ctx.style_presets,
    )
    check_story(parsed)
    shot = build_spec(parsed, asker, caps, default_quality=ctx.default_quality)
    return as_story(shot, own=told.shots)


async def _follow_up(
    ctx: ApiContext, token: ApiToken, req: ClipRequest, upload: Upload | None
) -> RenderSpec:
    if req.from_ is None or req.action is None:
        raise Problem(
            422,
            "Follow-up incomplete",
            "A follow-up needs both `from` (the clip's id) and `action` (reroll, remix, vary, "
            "extend, upscale, or an edit: modify, expand, add or swap).",
            "follow-up-incomplete",
        )
    given = [name for name, value in settings_given(req).items() if value is not None]
    if upload is not None or given:
        what = "a file" if upload is not None else ", ".join(f"`{n}`" for n in given)
        raise Problem(
            422,
            "Follow-up takes no settings",
            f"A follow-up repeats its clip's settings, so {what} can't be sent with it. For "
            "other settings use action `remix` with the whole line in `prompt`, like "
            '"a fox -motion 3".',
            "follow-up-settings",
        )
    if req.action == "remix" and not (req.prompt and req.prompt.strip()):
        raise Problem(
            422,
            "Prompt needed",
            "A remix needs its new `prompt` (with any flags); GET the clip for its `command`.",
            "prompt-needed",
        )
    if req.action != "remix" and req.prompt is not None:
        raise Problem(
            422,
            "Follow-up takes no prompt",
            f"`{req.action}` repeats the clip's own prompt; send a new one with action `remix`.",
            "follow-up-settings",
        )
    row = await asyncio.to_thread(ctx.store.get, req.from_)
    if row is None or row.deleted_at is not None or not visible_to(row, token):
        raise Problem(404, "No such clip", NOT_FOUND, "not-found")
    spec = follow_up_spec(
        RenderSpec.model_validate(row.spec),
        row.id,
        cast(FollowUp, req.action),  # an edit's action went to `edit_draft`
        ApiAsker.of(token),
        ctx.model_capabilities,
        ctx.style_presets,
        text=req.prompt,
        parent_media=row.media_path,
        default_quality=ctx.default_quality,
    )
    if req.hide is not None and req.hide != spec.hidden:
        spec = spec.model_copy(update={"hidden": req.hide})
    return spec


async def screened(ctx: ApiContext, spec: RenderSpec, token: ApiToken) -> PolicyDecision:
    """Bans, the prompt policy and the classifier: a ban or a block raises, a flag returns."""
    return await screen(
        spec,
        ApiAsker.of(token),
        bans=ctx.bans,
        policy=ctx.prompt_policy,
        toxicity=ctx.toxicity_check,
        until=when_utc,
    )


async def admit(ctx: ApiContext, spec: RenderSpec, token: ApiToken, gid: str) -> Reservation:
    """Screening, then the member's place under their caps: every refusal before the upload is
    checked. A flagged prompt is refused here (a batch's item); `ask_clip` holds it instead."""
    decision = await screened(ctx, spec, token)
    if decision.decision == "flag":
        raise Problem(422, "Needs a moderator's review", NEEDS_REVIEW, "needs-review")
    return await ctx.submitter.reserve(
        spec, role_ids=ApiAsker.of(token).role_ids, generation_id=gid
    )


async def _with_upload(
    ctx: ApiContext,
    token: ApiToken,
    parsed: ParsedPrompt,
    upload: Upload,
    gid: str,
) -> tuple[RenderSpec, str]:
    """The spec in the upload's shape, the upload checked and stored under `gid`."""
    asker, caps = ApiAsker.of(token), await _family_for(ctx, upload)
    if upload.kind == "image":
        picture = await ctx.upload_checks.image(upload.data, upload.filename)
        framed, note = framed_for_picture(parsed, picture.source_width, picture.source_height)
        spec = build_spec(framed, asker, caps, default_quality=ctx.default_quality)
        stored, _size = await asyncio.to_thread(ctx.media_store.save_bytes, gid, picture.png, "png")
        return spec.model_copy(update={"mode": "i2v", "input_media": (stored,)}), note
    checked = await ctx.upload_checks.video(upload.data, upload.filename)
    spec, frames, note = fitted_to_video(parsed, checked.info, asker, caps, ctx.default_quality)
    stored, _size = await asyncio.to_thread(
        ctx.media_store.save_bytes, gid, upload.data, checked.kind
    )
    video_in = {"mode": "v2v", "input_media": (stored,), "num_frames": frames}
    return RenderSpec.model_validate({**spec.model_dump(), **video_in}), note


async def finished(draft: Draft, gid: str) -> tuple[RenderSpec, list[str]]:
    """The draft with its uploads checked and stored under `gid`, and every note for people."""
    notes = list(draft.notes)
    if draft.finish is None:
        return draft.spec, notes
    spec, more = await draft.finish(gid)
    return spec, notes + more


async def _hold(
    ctx: ApiContext,
    token: ApiToken,
    draft: Draft,
    gid: str,
    webhook_url: str | None,
    decision: PolicyDecision,
) -> Accepted:
    """A flagged request kept for a moderator as Discord keeps one (`bot.moderation.gate`):
    the upload checked and stored, the row recorded "held" with its API row, and the bot asked
    to post it in the review channel (`jobs.review_requests`). Approve submits it under the
    member's caps then; Reject, or no review channel, fails it."""
    spec, notes = await finished(draft, gid)
    row = GenerationCreate.from_spec(gid, spec.model_dump(mode="json"))
    await asyncio.to_thread(ctx.store.add_generation, row)
    try:
        await asyncio.to_thread(ctx.store.set_moderation, gid, Moderation.HELD)
        await ctx.api_clip_rows.add(ApiClipNew(gid, token.id, webhook_url, None))
        review = ReviewRequest(
            generation_id=gid,
            rule=decision.rule or "",
            category=decision.category or "",
            reason=decision.reason or "",
            matched=decision.matched or "",
            field=decision.field or "",
        )
        await request_review(ctx.queue, review)
    except BaseException:
        await asyncio.shield(
            asyncio.to_thread(ctx.store.mark_failed, gid, error="review not requested")
        )
        raise
    await asyncio.to_thread(
        ctx.moderation_store.record,
        "hold",
        moderator_id=SYSTEM,
        guild_id=token.guild_id,
        target_member_id=token.member_id,
        target_generation_id=gid,
        reason=f"{decision.rule}: {decision.reason}",
    )
    notes.append(f"Held for review by a moderator: {decision.reason}")
    return Accepted(gid, spec, 0, None, notes, held=True)


async def ask_clip(
    ctx: ApiContext,
    token: ApiToken,
    asked: Asked,
    *,
    generation_id: str | None = None,
    batch_id: str | None = None,
) -> Accepted:
    """Read, screen, reserve, check the upload, record and queue one clip; the refusal (a
    `Problem` or a `UserFacingError` in the bot's words) otherwise, with nothing left behind."""
    webhook_url = checked_webhook(ctx, asked.request.webhook_url)
    draft = await draft_spec(ctx, token, asked)
    spec, gid = draft.spec, generation_id or new_generation_id()
    decision = await screened(ctx, spec, token)
    if decision.decision == "flag":
        return await _hold(ctx, token, draft, gid, webhook_url, decision)
    reservation = await ctx.submitter.reserve(
        spec, role_ids=ApiAsker.of(token).role_ids, generation_id=gid
    )
    try:
        spec, notes = await finished(draft, gid)

        async def record(submission: Submission) -> None:
            note = ApiClipNew(submission.generation_id, token.id, webhook_url, batch_id)
            await ctx.api_clip_rows.add(note)

        submission = await ctx.submitter.submit(
            spec, reservation=reservation, generation_id=gid, before_enqueue=record
        )
    except BaseException:
        await asyncio.shield(ctx.submitter.release(reservation))
        raise
    # From the place it previewed, as the answer's queue_position (no second walk of the line)
    eta_s = await ctx.render_times.ready_in(spec, submission.position, submission.tier)
    return Accepted(gid, spec, submission.position, eta_s, notes)
