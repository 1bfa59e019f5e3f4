"""A spec kept as JSON (the gallery's rows) gives the same `/create` line as the spec itself.

The gallery's "Remix in Discord" hint formats stored specs with `stored_command_line`; the line
must be the one `to_command_line` writes, and the parser must read it back to the same spec.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.commandline import stored_command_line, to_command_line
from core.flags import parse_flags
from core.spec import RenderSpec, StylePreset

BASE: dict[str, Any] = {
    "prompt": "a red fox running through snow",
    "aspect_ratio": "16:9",
    "width": 1024,
    "height": 576,
    "num_frames": 48,
    "steps": 20,
    "seed": 42,
}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"negative_prompt": "blurry, low quality", "camera": "pan up left", "motion": 3},
        {"aspect_ratio": "9:16", "width": 576, "height": 1024, "guidance_scale": 8.5},
        {"fps": 12, "num_frames": 30, "sound": True, "seed": 4294967295},
        {"style": StylePreset(name="anime", prompt_suffix="anime style")},
        {"prompt": 'a sign that says "-50%" -neg', "negative_prompt": "-camera"},
        {"prompt": "it's a fox's den, 'quoted'", "negative_prompt": '"both" kinds\''},
        {"prompt": '<script>alert(1)</script> "><img src=x onerror=alert(1)>'},
        {"hidden": True, "num_frames": 31, "fps": 24},
    ],
)
def test_same_line_as_the_bot_and_it_reads_back(changes: dict[str, Any]) -> None:
    spec = RenderSpec(**{**BASE, **changes})
    stored = spec.model_dump(mode="json")
    line = stored_command_line(stored)
    assert line == to_command_line(spec)
    parsed = parse_flags(line)
    assert parsed.prompt == spec.prompt
    assert parsed.negative_prompt == spec.negative_prompt
    assert parsed.seed == spec.seed and parsed.camera == spec.camera
    assert (parsed.aspect_ratio or "16:9") == spec.aspect_ratio


def test_an_old_row_with_a_short_spec_still_gets_a_line() -> None:
    assert stored_command_line({"prompt": "fox", "seed": 1, "num_frames": 24, "fps": 24}) == (
        "fox -len 1 -seed 1"
    )
