"""An upgrade keeps what the running system left behind working: jobs already queued in Redis and
buttons already posted in Discord.

`tests/data/upgrade/f414b03.json` was written by the code before the house move (commit f414b03,
through its own modules: `worker.admission.arq_head`, `bot.views.result_view`, the
DynamicItems' constructors). The code now must read them as it wrote them.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from typing import Any

import discord
import pytest
from arq.jobs import deserialize_job

import bot.cogs
from bot.delivery.views import result_view
from core.capabilities import capabilities_for
from core.flags import parse_request
from core.spec import RenderJob
from core.spec import deserialize_job as job_deserializer
from jobs.admission import arq_head
from tests.harness.paths import ROOT

OLD = json.loads((ROOT / "tests/data/upgrade/f414b03.json").read_text())
GID = OLD["generation_id"]
ENQUEUED_AT_MS = 1_764_979_200_000


def test_a_job_queued_by_the_old_code_reads_as_the_same_job() -> None:
    payload = (OLD["arq_head"] + f"{ENQUEUED_AT_MS}}}").encode()
    queued = deserialize_job(payload, deserializer=job_deserializer)
    assert (queued.function, queued.kwargs) == ("render_clip", {})
    assert queued.enqueue_time.timestamp() * 1000 == ENQUEUED_AT_MS
    job = RenderJob.model_validate(queued.args[0])
    assert job.generation_id == GID
    assert job.spec.prompt == "a fox running through snow"
    assert (job.spec.camera, job.spec.seed, job.spec.aspect_ratio) == ("pan left", 7, "9:16")


def test_the_same_request_is_queued_byte_for_byte_as_before() -> None:
    spec = parse_request(
        "a fox running through snow -motion 3 -camera pan left -ar 9:16 -seed 7 -neg blurry",
        capabilities=capabilities_for("tiny"),
        owner_id="123",
        owner_name="fox",
    )
    job = RenderJob(generation_id=GID, spec=spec)
    assert job.model_dump(mode="json") == OLD["job_json"]
    assert arq_head(job) == OLD["arq_head"]


def test_a_result_message_gets_the_same_buttons_as_before() -> None:
    view = result_view(GID, ["t2v", "i2v", "extend", "upscale"])
    assert view.to_components() == OLD["result_components"]


def dynamic_items() -> list[type[Any]]:
    """Every button class the cogs register to answer clicks after a restart."""
    for module in pkgutil.iter_modules(bot.cogs.__path__, "bot.cogs."):
        importlib.import_module(module.name)
    found: list[type[Any]] = []
    todo = list(discord.ui.DynamicItem.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        # the bot's own, as its module holds it now: not a test's subclass, not a stale copy
        module = sys.modules.get(cls.__module__)
        if cls.__module__.startswith("bot.") and getattr(module, cls.__name__, None) is cls:
            found.append(cls)
    return found


OLD_IDS = [
    *((custom_id, {"action": a, "gid": GID}) for a, custom_id in OLD["clip_buttons"].items()),
    *((custom_id, {"action": a, "gid": GID}) for a, custom_id in OLD["review_buttons"].items()),
    (OLD["cancel_button"], {"gid": GID}),
    (OLD["gallery_button"], {"order": "top", "page": "12"}),
]


@pytest.mark.parametrize(("custom_id", "state"), OLD_IDS, ids=[i for i, _ in OLD_IDS])
def test_a_button_posted_by_the_old_code_is_still_answered(
    custom_id: str, state: dict[str, str]
) -> None:
    matches = [
        (cls, found.groupdict())
        for cls in dynamic_items()
        if (found := cls.__discord_ui_compiled_template__.fullmatch(custom_id))
    ]
    assert len(matches) == 1, f"{custom_id}: answered by {[c.__name__ for c, _ in matches]}"
    assert matches[0][1] == state
