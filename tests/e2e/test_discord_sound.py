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
