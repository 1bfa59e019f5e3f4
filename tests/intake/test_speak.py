"""/speak's checks before a job exists: each bad voice file (not audio, too long, too big,
undecodable, too short) and each bad request (both or neither of voice and line, a line too
long, `-loop`, a voice longer than the family's clips) gets its own message naming what was
wrong and what is allowed; good voices in each format come back as the stored mono WAV."""

from __future__ import annotations

import io
import wave
from typing import Any

import av
import numpy as np
import pytest

from core.capabilities import FAMILIES
from core.errors import FlagError, UserFacingError
from core.flags import parse_flags
from core.speak import MAX_SPEAK_CHARS
from core.spec import RenderSpec
from intake.fleet import FleetChoice
from intake.media.voices import (
    STORED_RATE,
    AttachmentError,
    BrokenAudio,
    NotAudio,
    VoiceTooLong,
    VoiceTooShort,
    check_voice,
    sniff,
)
from intake.modes import serving_family
from intake.speak import check_request, refuse_flags, speak_prompt, voice_length, with_speech


def wav(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def encoded(container: str, codec: str, seconds: float, rate: int = 48000) -> bytes:
    """A mono tone in `container` with `codec`, made with PyAV."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=rate)
        stream.layout = "mono"
        fmt = stream.codec_context.format.name
        size = stream.codec_context.frame_size or 1024
        t = np.arange(round(seconds * rate)) / rate
        tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        if fmt.startswith("s16"):  # libopus takes 16-bit samples, LAME 32-bit
            tone = (tone * 32767).astype(np.int16)
        elif fmt.startswith("s32"):
            tone = (tone * 2**31).astype(np.int32)
        for start in range(0, len(tone), size):
            frame = av.AudioFrame.from_ndarray(tone[None, start : start + size], fmt, "mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize(
    "container, codec, kind",
    [
        ("wav", "", "WAV"),
        ("mp3", "libmp3lame", "MP3"),
        ("ogg", "libopus", "OGG"),
        ("ipod", "aac", "M4A"),
    ],
)
def test_each_format_is_read_by_content_and_stored_as_mono_wav(
    container: str, codec: str, kind: str
) -> None:
    data = (
        wav(1.5)
        if container == "wav"
        else encoded(container, codec, 1.5, 44100 if kind != "OGG" else 48000)
    )
    checked = check_voice(data, "named.txt")  # the name says nothing
    assert checked.source_format == kind and abs(checked.seconds - 1.5) < 0.1
    with wave.open(io.BytesIO(checked.wav)) as stored:
        assert (stored.getnchannels(), stored.getsampwidth()) == (1, 2)
        assert stored.getframerate() == STORED_RATE


@pytest.mark.parametrize(
    "data, error, words",
    [
        (b"hello, this is a text file\n" * 20, NotAudio, ["WAV, MP3, OGG/Opus or M4A"]),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, NotAudio, ["isn't a recording"]),
        (wav(21), VoiceTooLong, ["longer than 20 s", "at most 20 s", "Trim"]),
        (b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\xff" * 300, BrokenAudio, ["doesn't decode"]),
        (b"OggS" + b"\x00" * 400, BrokenAudio, ["looks like OGG"]),
        (wav(0.05), VoiceTooShort, ["at least 0.2 s"]),
        (b"RIFF\x00\x00\x00\x00WAVE" + b"\x00" * (10 * 2**20), AttachmentError, ["at most 10 MB"]),
    ],
)
def test_each_bad_voice_is_refused_with_what_was_wrong(
    data: bytes, error: type[Exception], words: list[str]
) -> None:
    with pytest.raises(error) as refused:
        check_voice(data, "voice.wav")
    for word in words:
        assert word in str(refused.value)
    assert "`voice.wav`" in str(refused.value)


def test_sniff_reads_the_first_bytes_only() -> None:
    assert (
        sniff(wav(0.3)) == "WAV" and sniff(b"ID3\x04") == "MP3" and sniff(b"\xff\xfb\x90") == "MP3"
    )
    assert sniff(b"OggS\x00") == "OGG" and sniff(b"\x00\x00\x00\x20ftypM4A ") == "M4A"
    assert sniff(b"fLaC\x00") is None


def test_exactly_one_of_voice_and_line_and_the_line_capped() -> None:
    assert check_request(True, None) == "" and check_request(False, "  hi   there ") == "hi there"
    with pytest.raises(UserFacingError, match="not both"):
        check_request(True, "hello")
    with pytest.raises(UserFacingError, match="not neither"):
        check_request(False, "   ")
    with pytest.raises(UserFacingError, match=f"at most {MAX_SPEAK_CHARS}"):
        check_request(False, "a" * (MAX_SPEAK_CHARS + 1))


def test_loop_and_sound_are_refused_and_the_clip_follows_the_voice() -> None:
    tiny = FAMILIES["tiny"]
    for flag in ("-loop", "-sound"):
        with pytest.raises(FlagError, match=flag):
            refuse_flags(parse_flags(f"a face {flag}", sound_supported=True, loop_supported=True))
    parsed = parse_flags(speak_prompt("-seed 3"))
    assert parsed.prompt.startswith("a person speaking") and parsed.seed == 3
    assert voice_length(parsed, 1.51, tiny).length == pytest.approx(37 / 24)
    with pytest.raises(UserFacingError, match="at most 4 s"):
        voice_length(parsed, 6.0, tiny)


def test_the_spec_takes_a_picture_and_one_voice() -> None:
    base = dict(
        prompt="a", aspect_ratio="1:1", width=256, height=256, num_frames=24, steps=4, seed=1
    )
    spec = RenderSpec(**base)
    voiced = with_speech(spec, "ab/ab.png", "ab/ab.voice.wav", "")
    typed = with_speech(spec, "ab/ab.png", None, "hello")
    assert voiced.mode == typed.mode == "speak" and "speak_text" not in voiced.model_dump()
    assert typed.model_dump()["speak_text"] == "hello"
    with pytest.raises(ValueError, match="not both"):
        with_speech(spec, "ab/ab.png", "ab/ab.voice.wav", "hello")
    with pytest.raises(ValueError, match="needs mode 'speak'"):
        RenderSpec(**base, speak_text="hello")


async def test_speak_goes_to_a_speaking_family_or_is_refused_up_front(redis: Any) -> None:
    """An ltx bot's /speak renders on a live ltx2 worker; with only ltx and wan workers it is
    refused before anything is downloaded or queued, naming the family to start."""
    from tests.intake.test_serving_family import beat

    await beat(redis, "ltx")
    await beat(redis, "wan")
    with pytest.raises(UserFacingError, match=r"No worker here can make pictures speak.*ltx2:1"):
        await serving_family(FleetChoice(redis), FAMILIES["ltx"], "speak", "make pictures speak")
    await beat(redis, "ltx2")
    caps = await serving_family(FleetChoice(redis), FAMILIES["ltx"], "speak", "make pictures speak")
    assert caps.name == "ltx2"


class _Member:
    owner_id = "discord:2"
    display_name = "bob"
    guild_id = 1
    channel_id = 2
    upload_limit = None


@pytest.mark.parametrize(
    ("media", "line"),
    [(("ab/" + "a" * 32 + ".png", "ab/" + "a" * 32 + ".voice.wav"), ""), (("ab/x.png",), "hi!")],
)
def test_a_reroll_of_a_speaking_clip_speaks_the_same_voice_or_line(
    media: tuple[str, ...], line: str
) -> None:
    from intake.followups import follow_up_spec

    base = dict(prompt="a person speaking", aspect_ratio="1:1", width=384, height=384, steps=4)
    parent = RenderSpec(
        **base, num_frames=36, seed=5, mode="speak", input_media=media, speak_text=line
    )
    child = follow_up_spec(parent, "a" * 32, "reroll", _Member(), FAMILIES["tiny"], {})  # type: ignore[arg-type]
    assert (child.mode, child.input_media, child.speak_text) == ("speak", media, line)
    assert child.num_frames == 36 and child.seed != 5
    with pytest.raises(UserFacingError, match="follows its voice"):
        follow_up_spec(parent, "a" * 32, "loop", _Member(), FAMILIES["tiny"], {})  # type: ignore[arg-type]


def test_add_sound_on_a_speaking_clip_is_refused_rather_than_drop_the_voice() -> None:
    from intake.addsound import add_sound_spec

    parent = RenderSpec(
        prompt="a person speaking",
        aspect_ratio="1:1",
        width=384,
        height=384,
        num_frames=36,
        steps=4,
        seed=5,
        mode="speak",
        input_media=("ab/x.png",),
        speak_text="hi",
    )
    with pytest.raises(UserFacingError, match="voice it speaks"):
        add_sound_spec(parent, "a" * 32, _Member(), FAMILIES["tiny"], {}, parent_media="ab/x.mp4")  # type: ignore[arg-type]
