"""Voices members attach to `/speak`: judged by content, decoded within bounds, re-encoded.

An uploaded voice is hostile until decoded. Its name and declared content type say nothing:

1. the declared size, before a byte is downloaded, then the real size (`MAX_VOICE_BYTES`);
2. the first bytes: a WAV (`RIFF…WAVE`), MP3 (`ID3` or an MPEG audio frame sync), OGG
   (`OggS`: Opus or Vorbis) or M4A (an ISO-BMFF `ftyp` box); anything else is refused unopened;
3. a full decode with PyAV (FFmpeg's decoders, one per format: the one the bytes named, never
   a guess), which must yield an audio stream of at least `MIN_VOICE_SECONDS` and at most
   `MAX_VOICE_SECONDS`. Decoding stops as soon as the voice is past the limit, so what is held
   in memory is bounded by the limit, not by the file (20 s of 48 kHz stereo float: 7.7 MB);
   time is bounded by `intake.media.checks` (each check in a process of its own, killed past
   its deadline).

What passes is written again as mono 16-bit PCM WAV at `STORED_RATE` (`core.speak.VOICE_KIND`):
the worker reads only that file, never the member's bytes. PyAV is imported inside the check
(it runs in the upload-check processes), so the front ends still import without it.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from typing import Any

from core.speak import MAX_VOICE_BYTES, MAX_VOICE_SECONDS, VOICE_FORMATS, VOICE_RULES
from intake.media.images import AttachmentError, shown_name

STORED_RATE = 44100  # one of AAC's rates: the worker muxes it as it is
MIN_VOICE_SECONDS = 0.2
SUBJECT = "voices for /speak"
ADVICE = f"Send a shorter or more compressed recording ({VOICE_RULES})."


class NotAudio(AttachmentError):
    pass


class BrokenAudio(AttachmentError):
    pass


class VoiceTooLong(AttachmentError):
    pass


class VoiceTooShort(AttachmentError):
    pass


@dataclass(frozen=True)
class CheckedVoice:
    """A voice that passed every check: the stored WAV and what the member sent."""

    wav: bytes  # mono 16-bit PCM at STORED_RATE
    seconds: float
    source_format: str  # WAV, MP3, OGG, M4A


def sniff(data: bytes) -> str | None:
    """The format the first bytes name (as members call it), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "WAV"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "MP3"
    if data[:4] == b"OggS":
        return "OGG"
    if data[4:8] == b"ftyp":
        return "M4A"
    return None


# FFmpeg's demuxer for each: the bytes decided it, FFmpeg never probes for another.
_DEMUXERS = {"WAV": "wav", "MP3": "mp3", "OGG": "ogg", "M4A": "mp4"}


def check_voice(data: bytes, filename: str = "voice") -> CheckedVoice:
    """Judge `data` by its content and return it as the stored WAV, or an AttachmentError."""
    name = shown_name(filename)
    if len(data) > MAX_VOICE_BYTES:
        raise AttachmentError(
            f"`{name}` is {len(data) / 2**20:.1f} MB; {SUBJECT} can be at most "
            f"{MAX_VOICE_BYTES / 2**20:.0f} MB. {ADVICE}"
        )
    kind = sniff(data)
    if kind is None:
        raise NotAudio(f"`{name}` isn't a recording I can read. Attach a {VOICE_FORMATS} file.")
    try:
        samples, rate = _decode(data, _DEMUXERS[kind])
    except _TooLong:
        raise VoiceTooLong(
            f"`{name}` is longer than {MAX_VOICE_SECONDS:g} s; a voice for /speak can be at most "
            f"{MAX_VOICE_SECONDS:g} s. Trim it and attach it again."
        ) from None
    except Exception:  # FFmpeg's errors for damage, a missing stream, a wrong codec
        raise BrokenAudio(
            f"`{name}` looks like {kind} but doesn't decode: it may be damaged or cut short. "
            f"Export it again ({VOICE_FORMATS}) and attach the new file."
        ) from None
    seconds = len(samples) / STORED_RATE if rate else 0.0
    if seconds < MIN_VOICE_SECONDS:
        raise VoiceTooShort(
            f"`{name}` has {seconds:.2f} s of sound; a voice needs at least "
            f"{MIN_VOICE_SECONDS:g} s. Attach a longer recording."
        )
    return CheckedVoice(wav=wav_bytes(samples), seconds=seconds, source_format=kind)


class _TooLong(Exception):
    pass


def _decode(data: bytes, demuxer: str) -> tuple[Any, int]:
    """Mono int16 samples at STORED_RATE (a numpy array), decoding no further than the cap."""
    import av
    import numpy as np

    limit = round((MAX_VOICE_SECONDS + 0.05) * STORED_RATE)
    chunks: list[Any] = []
    held = 0
    options = {"probesize": "1000000", "analyzeduration": "1000000"}
    with av.open(io.BytesIO(data), format=demuxer, options=options) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=STORED_RATE)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(-1)
                chunks.append(chunk)
                held += len(chunk)
                if held > limit:
                    raise _TooLong
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    if len(samples) > limit:
        raise _TooLong
    return samples.astype(np.int16), STORED_RATE


def wav_bytes(samples: Any, rate: int = STORED_RATE) -> bytes:
    """Mono int16 samples as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()
