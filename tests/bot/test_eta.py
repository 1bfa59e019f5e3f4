from __future__ import annotations

import pytest

from bot.delivery.eta import about, mean_work_seconds, ready_in, work_seconds
from bot.messages import queued_text
from core.flags import parse_request
from tests.bot.capabilities import CAPS


def test_work_time_leaves_out_waiting_and_loading() -> None:
    assert work_seconds({"pickup": 9.0, "load": 5.0, "denoise": 2.0, "encode": 1.0}) == 3.0
    assert work_seconds({"pickup": 1.0}) is None
    assert mean_work_seconds([{"denoise": 2.0}, {"denoise": 4.0}, {"pickup": 1.0}]) == 3.0
    assert mean_work_seconds([]) is None


@pytest.mark.parametrize(
    "position, workers, expected",
    [(1, 1, 10.0), (2, 1, 20.0), (2, 2, 10.0), (3, 2, 20.0), (5, 0, 50.0)],
)
def test_ready_in_counts_rounds_of_jobs_ahead(position, workers, expected) -> None:
    assert ready_in(position, 10.0, workers) == expected


@pytest.mark.parametrize(
    "seconds, text",
    [(0.2, "about 1 s"), (42, "about 42 s"), (150, "about 2 min"), (5400, "about 1.5 h")],
)
def test_about(seconds, text) -> None:
    assert about(seconds) == text


def test_the_queued_message_shows_the_eta_when_there_is_one() -> None:
    spec = parse_request("a fox -seed 1", capabilities=CAPS)
    assert "ready in about 40 s" in queued_text(1, spec, 2, eta_s=40)
    assert "ready in" not in queued_text(1, spec, 2)
