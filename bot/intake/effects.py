"""An effect asked for on Discord: `/effect`'s request, and ✨ Effects' child of a clip.

Effects are the styles file's `[effects.NAME]` (`core.stylefile`), offered on the families with
image-to-video. The prompt is the effect's template with a subject (what the picture shows),
never read for flags; the effect is the clip's style, so a reroll is the same effect again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from core.errors import FlagError, UserFacingError
from core.flags import ParsedPrompt
from core.flagtext import clean_text
from core.flagvalues import check_length, closest
from core.rendercaps import Capabilities
from core.spec import Quality, RenderSpec, StylePreset
from core.stylefile import EffectEntry, StyleMenu
from intake.followups import Owner, build_spec
from intake.modes import DEFAULT_PROMPT


def effects_of(styles: Mapping[str, StylePreset]) -> Mapping[str, EffectEntry]:
    """The effects this server's family offers (none without a styles file)."""
    return styles.effects if isinstance(styles, StyleMenu) else {}


def pick_effect(styles: Mapping[str, StylePreset], name: str) -> EffectEntry:
    """The effect called `name`, or a FlagError naming what is offered (or who has it)."""
    effects = effects_of(styles)
    found = effects.get(name.strip().lower())
    if found is not None:
        return found
    shown = f"effect: {name}"
    if isinstance(styles, StyleMenu) and (lacked := styles.refusal(name.strip(), shown)):
        raise lacked
    if not effects:
        raise FlagError("No effects are set up on this server.", token=shown)
    raise FlagError(
        f"`{shown}` isn't an effect here.",
        token=shown,
        allowed=", ".join(sorted(effects)),
        suggestion=closest(name.lower(), {n: n for n in effects}),
    )


def effect_prompt(
    styles: Mapping[str, StylePreset], name: str, subject: str, family: str
) -> ParsedPrompt:
    """The effect's request: its template filled with `subject` (never read for flags: it is
    what the picture shows), and the effect as the clip's style."""
    effect = pick_effect(styles, name)
    prompt = clean_text(effect.prompt_for(clean_text(subject), family))
    check_length("The effect's prompt", prompt, "subject:")
    return ParsedPrompt(prompt=prompt, style=styles[name.strip().lower()])


def effect_spec(
    parent: RenderSpec,
    parent_id: str,
    name: str,
    asker: Owner,
    capabilities: Capabilities,
    styles: Mapping[str, StylePreset],
    *,
    default_quality: Quality,
) -> RenderSpec:
    """A child of a clip made from a picture: the effect on that same picture, in the parent's
    shape and quality, with a new seed; the parent's own words are the subject."""
    if parent.mode != "i2v" or not parent.input_media:
        raise UserFacingError("Effects work on clips made from a picture (/animate, /effect).")
    subject = "" if parent.prompt == DEFAULT_PROMPT else parent.prompt
    if parent.style is not None and parent.style.adapter == "effect":
        subject = ""  # an effect of an effect: its prompt is a template's, not the subject
    parsed = effect_prompt(styles, name, subject, capabilities.name)
    parsed = dataclasses.replace(
        parsed,
        aspect_ratio=parent.aspect_ratio,
        quality=parent.quality,
        hidden=parent.hidden or asker.guild_id is None,
    )
    spec = build_spec(
        parsed, asker, capabilities, parent_id=parent_id, default_quality=default_quality
    )
    return spec.model_copy(update={"mode": "i2v", "input_media": parent.input_media[:1]})
