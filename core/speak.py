"""/speak (lip sync): a picture of a face or character speaks a voice, uploaded or typed.

A speak clip's inputs are the picture, then the voice (`VOICE_KIND`: the member's upload
re-encoded by the front end as 16-bit PCM WAV, so the worker never opens the upload itself);
or the picture alone and `RenderSpec.speak_text`, the line a text-to-speech model voices on the
worker. Exactly one of the two. The clip lasts as long as the voice (an upload's length is
known at intake; a typed line gets the family's longest clip and the speech is fitted to it).
"""

from __future__ import annotations

from typing import Final

SPEAK: Final = "speak"  # the mode (core.spec.Mode)
# /speak clip:…: a member's finished clip re-rendered to speak (its video is input 0, its id the
# parent's). Its own mode, so a family that makes pictures speak but can't re-render a clip is
# refused up front by the fleet (`intake.fleet`), and the worker knows which input it reads.
SPEAK_CLIP: Final = "speak_clip"
SPEAKING: Final = frozenset({SPEAK, SPEAK_CLIP})  # a clip whose sound is the voice it speaks
MAX_SPEAK_CHARS: Final = 300  # a typed line: about 20 s of speech
MAX_VOICE_SECONDS: Final = 20.0
MAX_VOICE_BYTES: Final = 10 * 1024 * 1024
VOICE_KIND: Final = "voice.wav"  # the stored, re-encoded voice, next to the picture
VOICE_FORMATS: Final = "WAV, MP3, OGG/Opus or M4A"
VOICE_RULES: Final = f"{VOICE_FORMATS}, up to {MAX_VOICE_SECONDS:g} s and 10 MB"


def voice_seconds_allowed(max_seconds: float) -> float:
    """The longest voice a family can speak: its longest clip, and never over the upload cap."""
    return min(MAX_VOICE_SECONDS, max_seconds)
