"""What members read: the queued line, the progress line, the result caption. Pure text."""

from __future__ import annotations

import discord

from core.commandline import slash_command, to_command_line
from core.ids import GENERATION_ID
from core.speak import SPEAK_CLIP, SPEAKING
from core.spec import DEFAULT_QUALITY, Quality, RenderSpec
from core.text import without_bidi

BAR_WIDTH = 20


def progress_bar(step: int, total: int, width: int = BAR_WIDTH) -> str:
    """A bar of `width` blocks, filled for the share of steps done."""
    filled = round(width * step / total) if total else 0
    return "█" * filled + "░" * (width - filled)


DISCORD_MESSAGE_LIMIT = 2000


# Which quality made (or makes) the clip, in every line about it: a member who sees a rough
# clip knows it was a fast one, and that `-hq` renders the full schedule.
QUALITY_WORDS = {"fast": "fast", "hq": "hq"}


def clip_summary(spec: RenderSpec) -> str:
    return (
        f"{spec.width}×{spec.height} · {spec.duration_s:g} s at {spec.fps} fps · seed {spec.seed}"
        f" · {QUALITY_WORDS[spec.quality]}"
    )


def about(seconds: float) -> str:
    """A duration as a member wants it ("about 2 min"), not as a schedule."""
    if seconds < 60:
        return f"about {max(1, round(seconds))} s"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def queued_text(
    user_id: int, spec: RenderSpec, position: int, *, note: str = "", eta_s: float | None = None
) -> str:
    """`note` is one more line for the member, e.g. how their picture was framed."""
    ahead = "next up" if position <= 1 else f"#{position} in the queue"
    if eta_s is not None:
        ahead += f", ready in {about(eta_s)}"
    extra = f"\n{note}" if note else ""
    return _fit(
        f"<@{user_id}> queued ({ahead}) · {clip_summary(spec)}{extra}\n> {_quote(spec.prompt)}"
    )


def command_name(spec: RenderSpec) -> str:
    """The slash command that makes clips like this one (with the word an illusion hides)."""
    if spec.mode == "illusion":
        if spec.illusion_text:
            font = "" if spec.illusion_font == "sans" else f" font:{spec.illusion_font}"
            return f"/encrypt_text message:{_code(spec.illusion_text)}{font} prompt:"
        return "/encrypt_image prompt:"
    if spec.mode in SPEAKING and spec.speak_text:  # the typed line, as the voice said it
        return f"/speak text:{_code(spec.speak_text)} prompt:"
    return slash_command(spec.mode)


def progress_text(user_id: int, spec: RenderSpec, step: int, total: int, elapsed: float) -> str:
    bar = progress_bar(step, total, width=16)
    return _fit(
        f"<@{user_id}> rendering `{bar}` {step}/{total} · {elapsed:.0f} s · {clip_summary(spec)}"
        f"\n> {_quote(spec.prompt)}"
    )


FULL = "full"  # how the clip travels with its result message
COMPRESSED = "compressed"
LINK_ONLY = "link"
_HOW = {
    FULL: "",
    COMPRESSED: "\nCompressed to fit this server's upload limit; full quality in the gallery:",
    LINK_ONLY: "\nThe clip is larger than this server's upload limit; watch it here:",
}


def result_text(
    user_id: int,
    spec: RenderSpec,
    clip_url: str,
    *,
    how: str = FULL,
    default_quality: Quality = DEFAULT_QUALITY,
) -> str:
    """The link always survives: only the command line is shortened to fit a long prompt.
    `default_quality` is this server's REELBOT_DEFAULT_QUALITY: the line is read as shown here."""
    head = f"<@{user_id}> your clip is ready · {clip_summary(spec)}\n"
    tail = f"{_HOW[how]}\n{clip_url}"
    if spec.edit is not None:  # no command makes an edit again from a line: say what it did
        command = f"edited: {_code(spec.edit.describe())} · {_code(spec.prompt)}"
    elif spec.mode == SPEAK_CLIP:  # the clip it spoke on, by id (a voice is attached again)
        said = f" text:{_code(spec.speak_text)}" if spec.speak_text else ""
        command = (
            f"/speak clip:{spoken_on(spec)}{said} prompt:{_code(spec.prompt)} seed:{spec.seed}"
        )
    else:
        line = to_command_line(spec, default_quality=default_quality)
        command = f"{command_name(spec)} {_code(line)}"
    room = DISCORD_MESSAGE_LIMIT - len(head) - len(tail) - 2
    if len(command) > room:
        command = command[: room - 1] + "…"
    return f"{head}`{command}`{tail}"


def spoken_on(spec: RenderSpec) -> str:
    """The clip a speak_clip spoke on: its first input's id (a Reroll's parent is the speaking
    clip, and its input still the original's video)."""
    found = GENERATION_ID.search(spec.input_media[0]) if spec.input_media else None
    return found.group(0) if found else str(spec.parent_id)


def failed_text(user_id: int, spec: RenderSpec, reason: str) -> str:
    return _fit(f"<@{user_id}> sorry, this clip failed: {_quote(reason)}\n> {_quote(spec.prompt)}")


def not_queued_text(user_id: int, spec: RenderSpec, reason: str) -> str:
    """A "queued" answer taken back: the request was refused after it went out."""
    return _fit(f"<@{user_id}> not queued after all: {_quote(reason)}\n> {_quote(spec.prompt)}")


def _quote(text: str) -> str:
    """Member text shown as prose: one line, markdown shown as typed (no masked links,
    headings or spoilers under the bot's name), mentions that cannot ping, no bidi controls (a
    clip recorded before prompts were cleaned of them could still carry one)."""
    flat = discord.utils.escape_markdown(" ".join(without_bidi(text).split()))
    if flat.startswith("-#"):
        flat = "\\" + flat
    return flat.replace("@", "@\u200b")


def _code(text: str) -> str:
    """Member text inside a code span, where markdown does not render: backticks and bidi
    controls are what matter."""
    return " ".join(without_bidi(text).split()).replace("`", "ˋ")


def _fit(text: str) -> str:
    return text if len(text) <= DISCORD_MESSAGE_LIMIT else text[: DISCORD_MESSAGE_LIMIT - 1] + "…"
