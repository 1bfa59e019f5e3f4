"""Sound on any clip, end to end: fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔ a real
`python -m worker` on the tiny family (its tiny Stable Audio 3 built in code) ↔ SQLite gallery.

`-sound` makes an MP4 with an AAC track as long as the clip; 🔊 Add sound on a silent result
makes a child clip owned by whoever clicked, with a track and the parent's very frames; a sound
word the policy blocks is refused privately in the policy's words and queues nothing. The
assertions are on the MP4s members receive and the messages they see.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from gallery.community import CommunityStore
from tests.fakediscord import FakeDiscord, Message
from tests.fakediscord.records import walk_components
from tests.harness.members import child_clip, create, labels, user_id
from tests.harness.stack import clip_id
from tests.harness.video import decoded
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcesses

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

BLOCKED = "Explicit sexual content isn't allowed here."


@pytest.fixture
def data_dir(module_worker: WorkerProcesses) -> Path:
    """The module's one tiny worker renders every clip here: its data folder."""
    return module_worker.data_dir


def posted(message: Message) -> bytes:
    [data] = message.files.values()
    return data


def sound_of(data: bytes) -> tuple[str, int, float, float] | None:
    """The posted MP4's sound: (codec, rate, seconds, loudness), or None when it has none."""
    with av.open(io.BytesIO(data)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        seconds = float(stream.duration * stream.time_base)
        codec, rate = stream.codec_context.name, stream.sample_rate
    with av.open(io.BytesIO(data)) as container:
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    return codec, rate, seconds, float(np.sqrt(np.mean(samples**2)))


async def test_sound_flag_makes_a_clip_with_a_track_of_its_length(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        result = await create(fake, 'a campfire at night -sound "crackling fire" -len 2 -seed 5')

        assert '-sound "crackling fire"' in result.content
        assert labels(result)[-2:] == ["Add sound", "Delete"]
        frames, fps = decoded(posted(result))
        sound = sound_of(posted(result))
        assert sound is not None
        codec, rate, seconds, loudness = sound
        assert (codec, rate) == ("aac", 44100)
        assert abs(seconds - len(frames) / fps) <= 1 / fps  # as long as the picture
        assert len(frames) / fps == 2.0 and loudness > 1e-3
        row = stack.store.get(clip_id(result))
        assert "sound" in row.timings and row.spec["sound_prompt"] == "crackling fire"


async def test_add_sound_on_a_silent_clip_makes_a_child_with_a_track_and_the_same_frames(
    stack,
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = await create(fake, "a fox running through snow -len 1 -seed 7")
        parent_id = clip_id(first)
        assert sound_of(posted(first)) is None  # silent: no audio stream at all
        parent_frames, fps = decoded(posted(first))

        ix = await fake.click_button(first, label="Add sound", user="bob")
        modal = await ix.wait_modal()  # the first and only response to the click
        [words] = [c for c in walk_components(modal["components"]) if c["type"] == 4]
        sent = await fake.submit_modal(
            modal["custom_id"], {words["custom_id"]: "wind howling"}, user="bob"
        )
        queued = await sent.wait_reply()
        assert not queued.ephemeral and "a fox running through snow" in queued.content

        row, result = await child_clip(stack, fake, parent_id)
        assert int(result.message_reference["message_id"]) == queued.id
        assert (row.parent_id, row.owner_id) == (parent_id, user_id(fake, "bob"))
        assert row.spec["mode"] == "sound" and row.spec["sound_prompt"] == "wind howling"
        assert '-sound "wind howling"' in result.content
        frames, child_fps = decoded(posted(result))
        assert child_fps == fps and np.array_equal(frames, parent_frames)  # not re-rendered
        sound = sound_of(posted(result))
        assert sound is not None
        codec, _, seconds, loudness = sound
        assert codec == "aac" and abs(seconds - len(frames) / fps) <= 1 / fps
        assert loudness > 1e-3
        assert "denoise" not in row.timings and "sound" in row.timings


async def test_a_blocked_sound_word_is_refused_privately_in_the_policys_words(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = await create(fake, "a quiet beach at dawn -len 1 -seed 9")
        parent_id = clip_id(first)

        ix = await fake.click_button(first, label="Add sound", user="bob")
        modal = await ix.wait_modal()
        sent = await fake.submit_modal(modal["custom_id"], {"words": "xxx moaning"}, user="bob")
        refusal = await sent.wait_reply()
        assert refusal.ephemeral and BLOCKED in refusal.content

        ix = await fake.slash_command(
            "create", {"prompt": "a quiet beach -sound xxx moaning"}, user="bob"
        )
        refusal = await ix.wait_reply()
        assert refusal.ephemeral and BLOCKED in refusal.content

        assert [m for m in fake.messages if not m.ephemeral and "xxx" in m.content] == []
        assert CommunityStore(stack.engine).children(parent_id) == []


def voice_wav(seconds: float, rate: int = 16000) -> bytes:
    """A mono 16-bit WAV: a tone whose pitch glides, like a voice's, made in code."""
    import wave

    t = np.arange(round(seconds * rate)) / rate
    tone = 0.4 * np.sin(2 * np.pi * (180 + 60 * t) * t)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((tone * 32767).astype("<i2").tobytes())
    return out.getvalue()


def face_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 320), (230, 190, 160))
    ImageDraw.Draw(image).ellipse((120, 200, 200, 240), fill=(120, 20, 30))  # a mouth
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def track_of(data: bytes) -> np.ndarray:
    """The posted MP4's sound as mono float samples at its own rate."""
    with av.open(io.BytesIO(data)) as container:
        frames = [f.to_ndarray() for f in container.decode(audio=0)]
    return np.concatenate(frames, axis=1).mean(axis=0)


async def test_speak_with_a_voice_and_with_a_typed_line(stack) -> None:
    """/speak's clip has the voice as its AAC track, as long as the voice; a typed line is
    voiced on the worker (tiny Dia); a bad voice file and a blocked line are refused privately."""
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        face = fake.upload("me.png", face_png())
        voice = fake.upload("hello.mp3", voice_wav(1.5), content_type="audio/mpeg")  # a WAV
        ix = await fake.slash_command(
            "speak", {"image": face, "audio": voice, "prompt": "-seed 4"}, user="bob"
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "speaks your 1.5 s voice" in queued.content
        result = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content, timeout=90
        )
        row = stack.store.get(clip_id(result))
        assert row.spec["mode"] == "speak" and row.spec["input_media"][1].endswith(".voice.wav")
        assert "`/speak a person speaking to the camera" in result.content
        frames, fps = decoded(posted(result))
        sound = sound_of(posted(result))
        assert sound is not None
        codec, rate, seconds, _ = sound
        assert (codec, rate) == ("aac", 44100)
        assert abs(len(frames) / fps - 1.5) <= 1 / fps and abs(seconds - 1.5) <= 0.05
        # the track is the voice: its pitch, not another sound (AAC keeps a pure tone's peak)
        track = track_of(posted(result))
        spectrum = np.abs(np.fft.rfft(track[: rate // 2]))
        assert 150 < np.argmax(spectrum) * 2 < 260  # 180-210 Hz over the first half second

        ix = await fake.slash_command(
            "speak", {"image": face, "text": "Hello there, friends!", "prompt": "-seed 2"}
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral and 'says "Hello there, friends!"' in queued.content
        result = await fake.wait_for_message(
            lambda m: (
                "your clip is ready" in m.content
                and bool(m.message_reference)
                and int(m.message_reference["message_id"]) == queued.id
            ),
            timeout=90,
        )
        typed = stack.store.get(clip_id(result))
        assert typed.spec["speak_text"] == "Hello there, friends!" and "tts" in typed.timings
        assert "`/speak text:Hello there, friends! prompt:" in result.content
        sound = sound_of(posted(result))
        # the tiny random Dia speaks quietly (an RMS about 1e-3, just under or over it with the
        # thread count): what is asserted is a track that isn't silence, which decodes to 0
        assert sound is not None and sound[0] == "aac" and sound[3] > 1e-5

        for args, words in (
            ({"audio": fake.upload("v.wav", b"not a recording at all " * 20)}, "WAV, MP3"),
            ({"audio": fake.upload("long.wav", voice_wav(21))}, "at most 20 s"),
            ({"text": "xxx moaning"}, BLOCKED),
            ({}, "not neither"),
        ):
            ix = await fake.slash_command("speak", {"image": face, **args})
            refusal = await ix.wait_reply()
            assert refusal.ephemeral and words in refusal.content
        assert [m for m in fake.messages if "queued" in m.content and not m.ephemeral][2:] == []


async def test_speak_on_a_clip_is_a_child_with_the_clips_frames_and_the_voice(stack) -> None:
    """/speak clip:… makes one of the clips here speak: a child owned by whoever asked, as long
    as the voice, its frames the clip's own on the tiny family (no lip model there) and its
    track the voice; a voice longer than the clip and a clip named with a picture are refused
    privately with what to do."""
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first = await create(fake, "a news anchor at a desk -len 2 -seed 11")
        parent_id = clip_id(first)
        parent_frames, fps = decoded(posted(first))
        link = f"https://discord.com/channels/{fake.world.guild.id}/{fake.channel.id}/{first.id}"
        await eventually(lambda: stack.store.get(parent_id), lambda r: r.discord_message_id)

        voice = fake.upload("line.wav", voice_wav(1.0))
        ix = await fake.slash_command("speak", {"clip": link, "audio": voice}, user="bob")
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "Your clip speaks your 1.0 s voice" in queued.content
        assert "first 1.0 s of 2.0 s" in queued.content

        row, result = await child_clip(stack, fake, parent_id)
        assert (row.parent_id, row.owner_id) == (parent_id, user_id(fake, "bob"))
        assert row.spec["mode"] == "speak_clip" and row.spec["prompt"] == "a news anchor at a desk"
        assert f"`/speak clip:{parent_id} prompt:a news anchor at a desk seed:" in result.content
        media, kept = row.spec["input_media"]
        assert media == f"{parent_id[:2]}/{parent_id}.mp4" and kept.endswith(".voice.wav")
        frames, child_fps = decoded(posted(result))
        assert child_fps == fps and len(frames) == round(1.0 * fps)  # cut to the voice

        def drift(offset: int) -> float:
            shown = parent_frames[offset : offset + len(frames)].astype(int)
            return float(np.abs(frames.astype(int) - shown).mean())

        # the clip's own frames in step (through one more lossy encode of noisy tiny frames):
        # much nearer the parent's frame for frame than one frame on
        assert drift(0) < 0.7 * drift(1)
        sound = sound_of(posted(result))
        assert sound is not None and sound[0] == "aac" and abs(sound[2] - 1.0) <= 0.05
        track = track_of(posted(result))
        spectrum = np.abs(np.fft.rfft(track[: sound[1] // 2]))
        assert 150 < np.argmax(spectrum) * 2 < 260  # the voice's pitch

        for args, words in (
            ({"audio": fake.upload("long.wav", voice_wav(2.5))}, "the clip is 2.0 s"),
            ({"text": "hi", "image": fake.upload("me.png", face_png())}, "not both"),
            ({"text": "hi", "clip": "https://example.com/clips/" + "f" * 32}, "isn't one of"),
        ):
            ix = await fake.slash_command("speak", {"clip": parent_id, **args}, user="bob")
            refusal = await ix.wait_reply()
            assert refusal.ephemeral and words in refusal.content
        assert len(CommunityStore(stack.engine).children(parent_id)) == 1
