"""A request needing sound or a typed line's voice is refused up front when the workers of the
family that would render it announced their model for it is off: the member reads what to ask
for, and nothing is queued or counted. A worker that said nothing (older) still gets them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.delivery.consumer import Delivery
from core.capabilities import capabilities_for
from core.errors import UserFacingError
from core.fairshare import Caps, queue_of
from core.limits import Limits
from gallery.db import make_engine, migrate
from gallery.store import GalleryStore
from intake.fleet import FleetChoice
from intake.submit import Submitter
from jobs.admission import Admission
from jobs.liveness import Liveness
from tests.harness.renderjobs import job

pytestmark = pytest.mark.timeout(60)

NO_SOUND = (
    "No worker here makes sound right now — ask a server admin to set REELBOT_SOUND_MODEL on a "
    "worker (it is off)."
)
NO_VOICE = (
    "No worker here can voice a typed line right now — attach a voice file instead, or ask a "
    "server admin to set REELBOT_TTS_MODEL on a worker (it is off)."
)


@pytest.fixture
def store(tmp_path: Path) -> GalleryStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    migrate(engine)
    return GalleryStore(engine)


async def beat(redis: Any, family: str, extras: tuple[str, ...] | None, name: str = "") -> None:
    await Liveness(
        redis,
        name or f"{family}-0",
        interval_s=1,
        lease_s=15,
        queue=queue_of("fast", family),
        family=family,
        modes=capabilities_for(family).all_modes,
        extras=extras,
    ).beat()


def asking(member: str, n: int, family: str = "tiny", **update: Any) -> Any:
    clip = job(member, n)
    spec = clip.spec.model_copy(update={"backend": family, **update})
    return clip.model_copy(update={"spec": spec})


async def test_sound_with_the_sound_model_off_is_refused_and_nothing_is_queued_or_counted(
    redis: Any, store: GalleryStore
) -> None:
    await beat(redis, "tiny", ("voice",))  # REELBOT_SOUND_MODEL=off
    admission = Admission(redis)
    submitter = Submitter(redis, store, admission, limits=Limits(base=Caps(2, 5)))
    clip = asking("discord:1", 0, sound=True, sound_prompt="rain")
    with pytest.raises(UserFacingError) as refused:
        await submitter.reserve(clip.spec, generation_id=clip.generation_id)
    assert str(refused.value) == NO_SOUND
    with pytest.raises(UserFacingError, match="REELBOT_SOUND_MODEL"):
        await submitter.submit(clip.spec, generation_id=clip.generation_id)
    assert store.get(clip.generation_id) is None
    assert await admission.usage("discord:1") == (0, 0)
    assert await admission.position(clip.generation_id) is None
    silent = asking("discord:1", 1)  # the same worker makes silent clips as before
    await submitter.submit(silent.spec, generation_id=silent.generation_id)
    assert await admission.position(silent.generation_id) == 1


async def test_add_sound_needs_the_sound_model_too(redis: Any) -> None:
    await beat(redis, "tiny", ())
    fleet = FleetChoice(redis)
    add_sound = asking(
        "discord:1", 0, mode="sound", sound=True, input_media=("ab/" + "a" * 32 + ".mp4",)
    )
    with pytest.raises(UserFacingError, match="REELBOT_SOUND_MODEL"):
        await fleet.routed(add_sound.spec)


async def test_a_family_with_joint_audio_makes_sound_without_the_sound_model(redis: Any) -> None:
    """LTX-2 makes -sound with the picture; only 🔊 Add sound needs its sound model."""
    await beat(redis, "ltx2", ("voice",))
    fleet = FleetChoice(redis)
    sounded = asking("discord:1", 0, "ltx2", sound=True)
    assert (await fleet.routed(sounded.spec)).backend == "ltx2"
    assert not await fleet.adds_sound("ltx2")


async def test_a_worker_that_says_nothing_of_sound_is_taken_to_make_it(
    redis: Any, store: GalleryStore
) -> None:
    """A fleet part-way through an upgrade: the older worker's -sound clips still queue."""
    await beat(redis, "tiny", None)
    admission = Admission(redis)
    submitter = Submitter(redis, store, admission, limits=Limits(base=Caps(2, 5)))
    clip = asking("discord:1", 0, sound=True)
    await submitter.submit(clip.spec, generation_id=clip.generation_id)
    assert await admission.position(clip.generation_id) == 1
    assert await FleetChoice(redis).adds_sound("tiny")


async def test_one_worker_of_the_family_with_sound_is_enough(redis: Any) -> None:
    await beat(redis, "tiny", (), name="a")
    await beat(redis, "tiny", ("sound",), name="b")
    clip = asking("discord:1", 0, sound=True)
    assert (await FleetChoice(redis).routed(clip.spec)).sound


async def test_a_typed_line_with_text_to_speech_off_is_refused_a_voice_file_is_not(
    redis: Any,
) -> None:
    await beat(redis, "tiny", ("sound",))  # REELBOT_TTS_MODEL=off
    fleet = FleetChoice(redis)
    picture = "ab/" + "a" * 32 + ".png"
    typed = asking("discord:1", 0, mode="speak", input_media=(picture,), speak_text="hello")
    with pytest.raises(UserFacingError) as refused:
        await fleet.routed(typed.spec)
    assert str(refused.value) == NO_VOICE
    voiced = asking(
        "discord:1", 1, mode="speak", input_media=(picture, "ab/" + "a" * 32 + ".voice.wav")
    )
    assert (await fleet.routed(voiced.spec)).mode == "speak"


def delivery(redis: Any) -> Any:
    posting: Any = Delivery.__new__(Delivery)  # only the fleet and the bot's own modes
    posting.modes, posting.fleet = capabilities_for("tiny").all_modes, FleetChoice(redis)
    return posting


async def test_a_result_offers_add_sound_only_where_a_worker_makes_sound(redis: Any) -> None:
    from tests.intake.test_serving_family import labels

    assert "Add sound" in labels(await delivery(redis).modes_now("tiny"))  # nothing known yet
    await beat(redis, "tiny", ("voice",))
    assert "Add sound" not in labels(await delivery(redis).modes_now("tiny"))
    await beat(redis, "tiny", ("sound",), name="tiny-1")
    assert "Add sound" in labels(await delivery(redis).modes_now("tiny"))
