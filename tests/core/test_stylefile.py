"""The styles file: its schema's errors name the file, the entry and the field; the menu a
family offers; `-style` refusals that name the families that have the style."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capabilities import FAMILIES
from core.errors import ConfigError, FlagError
from core.flags import parse_flags, parse_request
from core.spec import RenderSpec, StylePreset
from core.stylefile import StyleFile, effect_needs_picture
from core.styles import DEFAULT_STYLES

FILE = """
[styles.anime]
description = "Anime: line art and cel shading"
prompt = "anime style, cel shading"
negative = "photo"
[styles.anime.lora.wan]
lora = "owner/wan-anime"
weight_name = "anime.safetensors"
weight = 0.8
trigger = "anm"
[styles.anime.lora.animatediff]
lora = "/loras/anime.safetensors"

[styles.cinematic]
prompt = "shot on 35mm film"

[effects.squish]
description = "Squished between two hands"
prompt = "{subject} squished"
[effects.squish.lora.tiny]
lora = "/loras/squish.safetensors"
trigger = "sq41sh"

[effects.melt]
prompt = "{subject} melting, {trigger}"
"""


def test_a_lora_style_is_offered_on_its_families_with_its_trigger_first() -> None:
    styles = StyleFile.from_toml(FILE)
    wan = styles.menu("wan")["anime"]
    assert wan == StylePreset(
        name="anime",
        prompt_suffix="anm, anime style, cel shading",
        negative="photo",
        adapter="style",
    )
    assert styles.menu("animatediff")["anime"].prompt_suffix == "anime style, cel shading"
    assert styles.lora_for(wan, "wan") is not None
    assert styles.lora_for(wan, "wan").weight == 0.8  # type: ignore[union-attr]


def test_words_only_entries_override_the_built_in_presets_everywhere() -> None:
    menu = StyleFile.from_toml(FILE).menu("svd")
    assert menu["cinematic"] == StylePreset(name="cinematic", prompt_suffix="shot on 35mm film")
    assert menu["noir"] == DEFAULT_STYLES["noir"]  # the rest stay as shipped
    assert "anime" not in menu  # the built-in anime is replaced by the LoRA one, not on svd


def test_a_style_the_family_lacks_is_refused_naming_the_families_that_have_it() -> None:
    menu = StyleFile.from_toml(FILE).menu("tiny")
    with pytest.raises(FlagError) as refused:
        parse_flags("a cat -style anime", styles=menu)
    assert "animatediff, wan" in str(refused.value) and "runs tiny" in str(refused.value)
    with pytest.raises(FlagError, match="isn't a style here"):
        parse_flags("a cat -style animee", styles=menu)


def test_effects_are_offered_only_where_pictures_are_animated() -> None:
    styles = StyleFile.from_toml(FILE)
    tiny = styles.menu("tiny")
    assert set(tiny.effects) == {"squish", "melt"}  # melt has no LoRA: words, every i2v family
    assert tiny["squish"].adapter == "effect" and tiny["squish"].prompt_suffix == "sq41sh"
    assert "squish" not in tiny.style_names()
    assert set(styles.menu("wan").effects) == {"melt"}
    assert styles.menu("animatediff").effects == {}  # no image-to-video there
    with pytest.raises(FlagError, match="set up for tiny"):
        parse_flags("a cat -style squish", styles=styles.menu("wan"))


def test_an_effect_prompt_is_its_template_with_the_subject() -> None:
    styles = StyleFile.from_toml(FILE)
    assert styles.effects["squish"].prompt_for("a red car", "tiny") == "a red car squished"
    assert styles.effects["squish"].prompt_for("", "tiny") == "the subject squished"
    assert styles.effects["melt"].prompt_for("a cat", "wan") == "a cat melting"


def test_an_effect_is_refused_on_a_clip_made_without_a_picture() -> None:
    menu = StyleFile.from_toml(FILE).menu("tiny")
    spec = parse_request("a cat -style squish", capabilities=FAMILIES["tiny"], styles=menu)
    with pytest.raises(FlagError, match="/effect effect:squish"):
        effect_needs_picture(spec)
    effect_needs_picture(spec.model_copy(update={"mode": "i2v"}))  # with a picture it's fine


def test_a_words_only_style_is_stored_as_before_adapters_existed() -> None:
    spec = parse_request("a cat -style noir", capabilities=FAMILIES["tiny"], seed_source=lambda: 1)
    assert spec.model_dump(mode="json")["style"] == DEFAULT_STYLES["noir"].model_dump()
    assert "adapter" not in spec.model_dump(mode="json")["style"]
    styled = spec.model_copy(update={"style": StylePreset(name="x", adapter="style")})
    again = RenderSpec.model_validate(styled.model_dump(mode="json"))
    assert again.style is not None and again.style.adapter == "style"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            '[styles.anime.lora.wan]\nlora = "x/y"\nweight_name = "anime.bin"',
            "s.toml: [styles.anime] lora.wan.weight_name: 'anime.bin' must be a .safetensors file",
        ),
        (
            '[styles.anime.lora.wan]\nlora = "/loras/anime.ckpt"',
            "s.toml: [styles.anime] lora.wan.lora: '/loras/anime.ckpt' is a pickle file (.ckpt)",
        ),
        (
            '[styles.anime.lora.svd]\nlora = "x/y"',
            "s.toml: [styles.anime] lora: 'svd' takes no LoRAs",
        ),
        ('[styles.anime.lora.sora]\nlora = "x/y"', "'sora' is not a model family; known:"),
        (
            '[effects.squish.lora.animatediff]\nlora = "x/y"',
            "'animatediff' can't animate a picture",
        ),
        (
            '[effects.squish]\nprompt = "squished"',
            "[effects.squish] prompt: an effect's prompt needs",
        ),
        (
            '[styles.anime]\ncolour = "red"',
            "s.toml: [styles.anime] colour: not a field of this table",
        ),
        ('[styles.Anime]\nprompt = "x"', "s.toml: styles: 'Anime': a name is 1-32 lowercase"),
        ("[styles.x]\n[effects.x]", "'x' is both a style and an effect"),
        ("[styles.x", "s.toml: not valid TOML"),
        (
            '[styles.anime.lora.wan]\nlora = "x/y"\nweight = 9',
            "[styles.anime] lora.wan.weight: Input should be less than or equal to 4",
        ),
    ],
)
def test_each_problem_is_one_line_naming_file_entry_and_field(text: str, line: str) -> None:
    with pytest.raises(ConfigError) as refused:
        StyleFile.from_toml(text, source="s.toml")
    assert line in str(refused.value)


def test_every_problem_gets_its_own_line() -> None:
    text = '[styles.a.lora.wan]\nlora = "x.bin"\n[styles.b]\nfoo = 1\n'
    with pytest.raises(ConfigError) as refused:
        StyleFile.from_toml(text, source="s.toml")
    assert len(str(refused.value).splitlines()) == 2


def test_no_file_is_the_built_in_presets(tmp_path: Path) -> None:
    assert dict(StyleFile.from_file(None).menu("tiny")) == dict(DEFAULT_STYLES)
    with pytest.raises(ConfigError, match="REELBOT_STYLES_FILE: cannot read"):
        StyleFile.from_file(tmp_path / "missing.toml")


def test_a_style_may_be_its_words_alone_where_it_has_no_lora() -> None:
    text = (
        '[styles.anime]\nprompt = "anime style"\nother_families = "words"\n'
        '[styles.anime.lora.wan]\nlora = "owner/wan-anime"\ntrigger = "anm"\n'
    )
    styles = StyleFile.from_toml(text)
    assert styles.menu("tiny")["anime"] == StylePreset(name="anime", prompt_suffix="anime style")
    assert styles.menu("wan")["anime"].adapter == "style"
    assert styles.menu("tiny").lacked == {}


def test_the_readme_example_is_a_valid_styles_file() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### Styles and effects", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    styles = StyleFile.from_toml(example, source="README.md")
    wan = styles.menu("wan")
    assert wan["anime"].adapter == "style" and wan["anime"].prompt_suffix.startswith("bldln")
    assert styles.menu("ltx")["anime"].adapter == ""  # other_families = "words"
    assert set(styles.menu("ltx").effects) == {"cakeify", "squish", "melt"}
    squish = styles.effects["squish"].prompt_for("a red car", "tiny")
    assert squish == "In the video, a red car is held in a person's hands and pressed flat"
