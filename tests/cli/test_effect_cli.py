"""`reelbot create TEXT --image PICTURE --effect NAME`: /effect from the terminal. The text says
what the picture shows and fills the effect's template (never read for flags); a bad ask is
refused before anything is connected."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from cli.pictures import animate_spec, read_pictures
from core.capabilities import capabilities_for
from core.stylefile import StyleFile
from tests.harness.cli import reelbot

OFFLINE = {"REELBOT_REDIS_URL": "redis://127.0.0.1:1/0", "REELBOT_BACKEND": "tiny"}
STYLES = '[effects.melt]\ndescription = "Melts away"\nprompt = "{subject} melting into a puddle"\n'


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    styles = tmp_path / "styles.toml"
    styles.write_text(STYLES)
    car = tmp_path / "car.png"
    Image.new("RGB", (320, 240), (200, 30, 30)).save(car)
    return styles, car


def test_the_text_fills_the_effects_template_on_the_picture(files: tuple[Path, Path]) -> None:
    styles, car = files
    tiny = capabilities_for("tiny")
    menu = StyleFile.from_file(styles).menu("tiny")
    pictures = read_pictures(car, None, tiny)
    assert pictures is not None
    spec, _note = animate_spec(
        "a red car -seed 3",
        pictures,
        tiny,
        menu,
        owner="cli:local",
        default_quality="fast",
        effect="Melt",
    )
    assert spec.prompt == "a red car -seed 3 melting into a puddle"  # words, not flags
    assert spec.style is not None and (spec.style.name, spec.style.adapter) == ("melt", "effect")
    assert spec.aspect_ratio == "4:3"  # the picture's shape


@pytest.mark.parametrize(
    ("image", "effect", "code", "words"),
    [
        (False, "melt", 3, ["`--effect` animates a picture", "--image PICTURE"]),
        (True, "squish", 2, ["`effect: squish` isn't an effect here", "melt"]),
    ],
)
def test_a_bad_effect_is_refused_before_connecting(
    files: tuple[Path, Path], image: bool, effect: str, code: int, words: list[str]
) -> None:
    styles, car = files
    args = ["create", "a red car", "--effect", effect, *(["--image", str(car)] if image else [])]
    env = {**OFFLINE, "REELBOT_STYLES_FILE": str(styles), "REELBOT_DATA_DIR": str(car.parent)}
    done = reelbot(*args, env=env)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr
