"""The shared `parse.jsonl` examples, read through `parse_request` as `reelbot parse` does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import FlagError
from core.flags import parse_request
from tests.bot.capabilities import CAPS

SHARED = Path("/work/shared/examples/parse.jsonl")
# A copy of the shared examples, so the suite runs where the shared folder is absent.
EXAMPLES = r"""
{"in": "a paper boat drifting down a rainy street -motion 2 -camera zoom out -ar 1:1 -seed 123", "out": {"prompt": "a paper boat drifting down a rainy street", "negative_prompt": "", "aspect_ratio": "1:1", "seed": 123, "motion": 2, "camera": "zoom out", "hidden": false}}
{"in": "neon jellyfish in deep space -neg \"text, watermark\" -gs 16 -fps 12", "out": {"prompt": "neon jellyfish in deep space", "negative_prompt": "text, watermark", "guidance_scale": 16, "fps": 12, "camera": null}}
{"in": "a hot-air balloon over Cappadocia -camera pan down right", "out": {"prompt": "a hot-air balloon over Cappadocia", "camera": "pan down right"}}
{"in": "a windmill at dusk -camera acw -hide", "out": {"camera": "rotate counterclockwise", "hidden": true}}
{"in": "a windmill at dusk -motion 9", "exit": 2, "stderr_mentions": ["-motion", "0", "4"]}
{"in": "a windmill at dusk -camrea zoom in", "exit": 2, "stderr_mentions": ["-camrea", "-camera"]}
{"in": "a windmill at dusk -ar 3:1", "exit": 2, "stderr_mentions": ["-ar"]}
"""  # noqa: E501


def load(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def check(example: dict[str, Any]) -> None:
    if example.get("exit") == 2:
        with pytest.raises(FlagError) as info:
            parse_request(example["in"], capabilities=CAPS)
        for word in example["stderr_mentions"]:
            assert word in str(info.value)
        return
    got = parse_request(example["in"], capabilities=CAPS).model_dump(mode="json")
    assert {key: got[key] for key in example["out"]} == example["out"]


@pytest.mark.parametrize("example", load(EXAMPLES), ids=lambda e: e["in"][:40])
def test_bundled_example(example: dict[str, Any]) -> None:
    check(example)


@pytest.mark.skipif(not SHARED.exists(), reason="no shared examples folder here")
def test_every_shared_example() -> None:
    examples = load(SHARED.read_text(encoding="utf-8"))
    assert examples
    for example in examples:
        check(example)
