"""REELBOT_DEFAULT_QUALITY: what a clip asked for with neither -fast nor -hq renders as."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from jobs.settings import QueueSettings, load_settings


def test_unset_it_is_the_full_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REELBOT_DEFAULT_QUALITY", raising=False)
    assert QueueSettings(_env_file=None).default_quality == "hq"  # type: ignore[call-arg]


def test_fast_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELBOT_DEFAULT_QUALITY", "fast")
    assert load_settings(QueueSettings).default_quality == "fast"


def test_a_bad_value_is_one_line_naming_the_setting_and_its_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REELBOT_DEFAULT_QUALITY", "turbo")
    with pytest.raises(ConfigError) as caught:
        load_settings(QueueSettings)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("REELBOT_DEFAULT_QUALITY:")
    assert "'fast' or 'hq'" in message and "turbo" not in message
