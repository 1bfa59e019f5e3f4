"""/speak through the API: `speak: true` with an `image` and a `voice` file, or an `image` and
a `say` line, taken by `intake.speak` as the Discord command and `reelbot create --speak` are.

What was sent is read first (a family of the fleet makes pictures speak, else 503; exactly one
of a voice and a line, the line's length, no -loop or -sound), then the request is screened
(the typed line as a prompt) and the member's place held; only then are the picture (as
/animate's) and the voice (by its content, `intake.media.voices`, on the check processes) judged
and stored under the new id, and the clip made as long as the voice.
"""

from __future__ import annotations

import asyncio

from api.askers import ApiAsker, Draft, settings_given
from api.context import ApiContext
from api.problems import Problem
from api.reading import Asked
from core.errors import UserFacingError
from core.speak import VOICE_KIND
from core.spec import RenderSpec
from gallery.apitables import ApiToken
from intake.followups import build_spec, merge_settings, read_defaults, read_text
from intake.modes import PICTURE_DECIDES, framed_for_picture, serving_family
from intake.speak import (
    check_request,
    refuse_flags,
    speak_note,
    speak_prompt,
    text_length,
    typed_draft,
    voice_length,
    with_speech,
)

SPEAK_SETTINGS = ("seed", "style", "quality")  # /speak's options besides hide
# intake.speak's words name /speak's Discord options; the API's fields are `voice` and `say`.
FIELD_NAMES = (("(`audio`)", "(`voice`)"), ("(`text`)", "(`say`)"))


def _in_api_words(exc: UserFacingError) -> UserFacingError:
    text = str(exc)
    for option, field in FIELD_NAMES:
        text = text.replace(option, field)
    return UserFacingError(text)


async def speak_draft(ctx: ApiContext, token: ApiToken, asked: Asked) -> Draft:
    """The speaking clip as far as the fields settle it (its length the family's longest until
    the voice is judged); the draft's `finish` checks and stores the picture and the voice."""
    req, upload, voice, asker = asked.request, asked.upload, asked.voice, ApiAsker.of(token)
    if req.from_ is not None or req.action is not None or req.story or req.ref is not None:
        raise Problem(
            422,
            "Not with /speak",
            "`speak` makes a new clip from a picture: send it without `from`, `action`, "
            "`story` or `ref`.",
            "speak-alone",
        )
    if upload is None or upload.kind != "image":
        raise Problem(
            422,
            "Picture needed",
            "`speak` needs an `image` file (the face or character that speaks: PNG, JPEG, "
            "WebP or GIF), sent as multipart/form-data with a `voice` file or a `say` line.",
            "speak-picture",
        )
    others = [
        n for n, v in settings_given(req).items() if v is not None and n not in SPEAK_SETTINGS
    ]
    if others:
        raise Problem(
            422,
            "Not with /speak",
            f"A speaking clip follows its voice, so {', '.join(f'`{n}`' for n in others)} "
            f"can't be sent with `speak`; it takes {', '.join(SPEAK_SETTINGS)} and hide.",
            "speak-settings",
        )
    try:
        line = check_request(voice is not None, req.say)
    except UserFacingError as exc:
        raise _in_api_words(exc) from None
    try:
        caps = await serving_family(
            ctx.submitter.fleet, ctx.model_capabilities, "speak", "make pictures speak"
        )
    except UserFacingError as exc:
        raise Problem(503, "No speaking worker", str(exc), "no-speaker") from None
    styles = ctx.style_presets
    parsed = merge_settings(
        read_text(speak_prompt(req.prompt), caps, styles),
        settings_given(req),
        hide=req.hide,
        in_guild=token.guild_id is not None,
        defaults=read_defaults(await ctx.default_flags.get(asker.owner_id), caps, styles),
        capabilities=caps,
        styles=styles,
        decided=PICTURE_DECIDES,
    )
    refuse_flags(parsed)
    draft = build_spec(text_length(parsed, caps), asker, caps, default_quality=ctx.default_quality)
    if line:
        draft = typed_draft(draft, line)

    async def finish(gid: str) -> tuple[RenderSpec, list[str]]:
        picture = await ctx.upload_checks.image(upload.data, upload.filename)
        heard = None if voice is None else await ctx.upload_checks.voice(voice.data, voice.filename)
        framed, note = framed_for_picture(parsed, picture.source_width, picture.source_height)
        if heard is not None:
            framed = voice_length(framed, heard.seconds, caps)
        else:
            framed = text_length(framed, caps)
        spec = build_spec(framed, asker, caps, default_quality=ctx.default_quality)
        spec = spec.model_copy(update={"seed": draft.seed})
        stored, _size = await asyncio.to_thread(ctx.media_store.save_bytes, gid, picture.png, "png")
        kept = None
        if heard is not None:
            kept, _size = await asyncio.to_thread(
                ctx.media_store.save_bytes, gid, heard.wav, VOICE_KIND
            )
        said = speak_note(heard.seconds if heard is not None else None, line)
        notes = [part for part in note.splitlines() if part] + [said]
        return with_speech(spec, stored, kept, line), notes

    return Draft(draft, finish=finish)
