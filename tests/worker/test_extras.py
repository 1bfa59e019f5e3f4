"""What a worker announces it makes beside its modes follows its REELBOT_SOUND_MODEL and
REELBOT_TTS_MODEL: off is announced (so front ends refuse up front), nothing is loaded."""

from __future__ import annotations

import pytest

from worker.settings import WorkerConfig
from worker.sound import SoundModel
from worker.speech import SpeechModel
from worker.tasks import worker_extras


@pytest.mark.parametrize(
    ("settings", "extras"),
    [
        ({}, ("sound", "voice")),  # the tiny family's own tiny sound model and Dia
        ({"sound_model": "off"}, ("voice",)),
        ({"tts_model": "none"}, ("sound",)),
        ({"sound_model": "off", "tts_model": "off"}, ()),
    ],
)
def test_a_worker_announces_the_models_its_operator_left_on(
    settings: dict[str, str], extras: tuple[str, ...]
) -> None:
    config = WorkerConfig(backend="tiny", device="cpu", **settings)  # type: ignore[arg-type]
    made = worker_extras(SoundModel.from_config(config), SpeechModel.from_config(config))
    assert made == extras
