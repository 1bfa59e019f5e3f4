"""The clip page and the API say which quality made a clip, and its remake line keeps it."""

from __future__ import annotations

import re

import pytest

from tests.gallery.sites import Site

BASE = {"prompt": "a fox", "seed": 3, "fps": 24, "num_frames": 48, "aspect_ratio": "16:9"}


@pytest.mark.parametrize(
    ("spec", "quality", "line_has"),
    [
        ({**BASE, "steps": 2, "quality": "fast"}, "fast", " -fast -seed 3"),
        # made where REELBOT_DEFAULT_QUALITY is fast: the spec says hq, and so does the line
        ({**BASE, "steps": 4, "quality": "hq"}, "hq", " -hq -seed 3"),
        ({**BASE, "steps": 4}, "hq", " -seed 3"),  # older rows, and hq on an hq server
    ],
)
async def test_the_quality_is_shown_on_the_page_and_in_the_json(
    site: Site, spec: dict[str, object], quality: str, line_has: str
) -> None:
    gid = site.add(prompt="a fox", seed=3, spec=spec)
    html = await site.text(f"/clips/{gid}")
    assert f"<dt>quality</dt><dd>{quality}</dd>" in html
    command = re.search(r'<code class="command">([^<]*)</code>', html)
    assert command is not None and command[1].endswith(line_has)
    assert ("-hq" in command[1]) == (line_has.startswith(" -hq"))
    api = await site.json(f"/api/clips/{gid}")
    assert api["flags"]["quality"] == quality
    assert api["create_command"] == command[1]


@pytest.mark.parametrize(("backend", "noted"), [("tiny", True), ("ltx", False)])
async def test_a_tiny_clip_says_its_noise_is_by_design(
    site: Site, backend: str, noted: bool
) -> None:
    """A newcomer's first clips come from the built-in tiny model: the page says why they look
    like noise (and how to get real ones), so nobody takes them for a fault."""
    gid = site.add(prompt="a fox", backend=backend)
    html = await site.text(f"/clips/{gid}")
    assert ("moving noise by design" in html) == noted
    assert ("reelbot models pull ltx" in html) == noted
