"""The operator's styles file (`REELBOT_STYLES_FILE`, TOML): styles with LoRAs, and effects.

    [styles.anime]                      # `-style anime`
    description = "Anime: clean line art, flat cel shading"
    prompt = "anime style, cel shading, clean line art"
    negative = "photo, 3d render"
    [styles.anime.lora.animatediff]     # per family; a family without one is refused
    lora = "owner/repo"                 # a hub id, a folder, or a .safetensors file
    weight_name = "file.safetensors"    # the file in the repo or folder
    weight = 0.8                        # the adapter's weight in `set_adapters`
    trigger = "anime"                   # words the LoRA was trained on, put before the prompt

    [effects.squish]                    # `/effect effect:squish`, the ✨ Effects menu
    prompt = "{subject} squished between two hands"
    [effects.squish.lora.wan]
    ...

A style with no `lora` table is words only and works on every family (it overrides a built-in
preset of its name, `core.styles`); one with LoRAs works only on the families it names. Effects
animate a picture, so only families with image-to-video take them. This module is the pure part:
the schema, what each family can take, and the menu a front end reads for the family it serves.
Front ends and the worker read the same file; a job carries only the style's name and words
(`StylePreset.adapter`), and the worker finds the LoRA in its own copy of the file.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from core.capabilities import FAMILIES
from core.errors import ConfigError, FlagError
from core.spec import RenderSpec, StylePreset
from core.styles import DEFAULT_STYLES

# diffusers' StableVideoDiffusionPipeline has no LoRA loader; every other built-in family does.
LORA_FAMILIES = frozenset(FAMILIES) - {"svd"}
# Effects animate a picture: the families that do image-to-video.
EFFECT_FAMILIES = frozenset(name for name, caps in FAMILIES.items() if "i2v" in caps.modes)
SAFE_SUFFIX = ".safetensors"
# Pickle formats: loading one can run code, so a LoRA is never read from them.
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"})
OTHER_WEIGHT_SUFFIXES = frozenset({".gguf", ".onnx", ".h5", ".msgpack", ".npz"})
DEFAULT_SUBJECT = "the subject"  # what `{subject}` becomes when a member says nothing
MAX_SUFFIX = 300  # StylePreset.prompt_suffix

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
Text = Annotated[str, StringConstraints(max_length=MAX_SUFFIX)]


class LoraEntry(BaseModel):
    """One family's LoRA for a style or an effect."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lora: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
    weight_name: str | None = None
    weight: float = Field(default=1.0, ge=-4.0, le=4.0)
    trigger: Text = ""

    @field_validator("lora")
    @classmethod
    def _no_pickle(cls, value: str) -> str:
        suffix = PurePath(value).suffix.lower()
        if suffix in PICKLE_SUFFIXES:
            raise ValueError(
                f"{value!r} is a pickle file ({suffix}), which can run code when loaded; "
                "use its .safetensors version"
            )
        if suffix in OTHER_WEIGHT_SUFFIXES:
            raise ValueError(f"{value!r}: a LoRA file must be a {SAFE_SUFFIX} file")
        return value

    @field_validator("weight_name")
    @classmethod
    def _safetensors_name(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().endswith(SAFE_SUFFIX):
            raise ValueError(f"{value!r} must be a {SAFE_SUFFIX} file (pickle files can run code)")
        return value

    @model_validator(mode="after")
    def _one_file(self) -> LoraEntry:
        if self.weight_name and self.lora.lower().endswith(SAFE_SUFFIX):
            raise ValueError("give weight_name only when lora is a repository or a folder")
        return self

    @property
    def source(self) -> str:
        """How it reads in messages: `lora` and, if given, `::weight_name`."""
        return f"{self.lora}::{self.weight_name}" if self.weight_name else self.lora


class StyleEntry(BaseModel):
    """`[styles.NAME]`: words, and a LoRA per family that has one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: Annotated[str, StringConstraints(max_length=100)] = ""
    prompt: Text = ""
    negative: Text = ""
    lora: dict[str, LoraEntry] = Field(default_factory=dict)
    # a family it has no LoRA for: "refuse" it, naming the families that have one, or give
    # its "words" alone there
    other_families: Literal["refuse", "words"] = "refuse"

    @field_validator("lora")
    @classmethod
    def _families_take_loras(cls, value: dict[str, LoraEntry]) -> dict[str, LoraEntry]:
        for family in value:
            if family in LORA_FAMILIES or "." in family:  # "." : an operator's own backend
                continue
            if family in FAMILIES:
                raise ValueError(f"{family!r} takes no LoRAs (diffusers has no LoRA loader for it)")
            raise ValueError(
                f"{family!r} is not a model family; known: {', '.join(sorted(FAMILIES))}"
            )
        return value

    @model_validator(mode="after")
    def _fits_a_prompt(self) -> StyleEntry:
        for family, entry in self.lora.items():
            if len(_joined(entry.trigger, self.prompt)) > MAX_SUFFIX:
                raise ValueError(
                    f"lora.{family}.trigger and prompt together are over {MAX_SUFFIX} characters"
                )
        return self

    def families(self) -> tuple[str, ...]:
        """The families its LoRAs are for; empty: words only, every family."""
        return tuple(sorted(self.lora))


class EffectEntry(StyleEntry):
    """`[effects.NAME]`: a prompt template with `{subject}` (and perhaps `{trigger}`)."""

    prompt: Text = "{subject}"

    @field_validator("prompt")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"not a template ({exc}); write braces as {{{{ and }}}}") from None
        if unknown := names - {"subject", "trigger"}:
            raise ValueError(
                f"{{{sorted(unknown)[0]}}} is not a placeholder; use {{subject}} and {{trigger}}"
            )
        if "subject" not in names:
            raise ValueError("an effect's prompt needs {subject}, like '{subject} squished'")
        return value

    @field_validator("lora")
    @classmethod
    def _families_animate_pictures(cls, value: dict[str, LoraEntry]) -> dict[str, LoraEntry]:
        for family in value:
            if family in FAMILIES and family not in EFFECT_FAMILIES:
                raise ValueError(
                    f"{family!r} can't animate a picture, so it takes no effects; families "
                    f"that can: {', '.join(sorted(EFFECT_FAMILIES))}"
                )
        return value

    def prompt_for(self, subject: str, family: str) -> str:
        """The clip's prompt: the template with the member's subject (and the family's trigger)."""
        entry = self.lora.get(family)
        return self.prompt.format(
            subject=subject.strip() or DEFAULT_SUBJECT, trigger=entry.trigger if entry else ""
        ).strip(" ,")


class StyleFile(BaseModel):
    """The whole file: `[styles.*]` and `[effects.*]`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    styles: dict[Name, StyleEntry] = Field(default_factory=dict)
    effects: dict[Name, EffectEntry] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_apart(self) -> StyleFile:
        if both := sorted(set(self.styles) & set(self.effects)):
            raise ValueError(
                f"{both[0]!r} is both a style and an effect; `-style {both[0]}` must mean one thing"
            )
        return self

    @classmethod
    def from_file(cls, path: Path | None) -> StyleFile:
        """The operator's file, or an empty one when `path` is None (the built-in presets)."""
        if path is None:
            return cls()
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"REELBOT_STYLES_FILE: cannot read {path}: {exc}") from None
        return cls.from_toml(text, source=str(path))

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<styles>") -> StyleFile:
        """A styles file from its text; ConfigError with one line per problem, each naming the
        file, the entry and the field."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError("\n".join(problems(exc, source))) from None

    def entries(self) -> Iterator[tuple[str, str, StyleEntry]]:
        """("styles" or "effects", name, entry) for every entry, styles first."""
        for name, style in self.styles.items():
            yield "styles", name, style
        for name, effect in self.effects.items():
            yield "effects", name, effect

    def lora_for(self, preset: StylePreset, family: str) -> LoraEntry | None:
        """The LoRA a job's style asks this family's worker to load; None: words only.

        ValueError (the member reads it) when the file has no such entry or no LoRA for the
        family although the style asks for one."""
        if not preset.adapter:
            return None
        table: Mapping[str, StyleEntry] = self.styles if preset.adapter == "style" else self.effects
        entry = table.get(preset.name)
        noun = "style" if preset.adapter == "style" else "effect"
        if entry is None:
            raise ValueError(
                f"the {noun} `{preset.name}` is not set up on this worker; ask the operator to "
                "give the workers the same styles file as the bot (REELBOT_STYLES_FILE)"
            )
        found = entry.lora.get(family)
        if found is None and preset.adapter == "style":
            raise ValueError(
                f"the style `{preset.name}` has no LoRA for {family} here "
                f"(it has one for {', '.join(entry.families()) or 'no family'})"
            )
        return found

    def menu(self, family: str) -> StyleMenu:
        """What `-style` and `/effect` offer on `family`: the built-in presets, the file's
        words-only styles, its LoRA styles and effects for this family."""
        i2v = family in EFFECT_FAMILIES or (family not in FAMILIES and "." in family)
        presets: dict[str, StylePreset] = dict(DEFAULT_STYLES)
        lacked: dict[str, Lacked] = {}
        descriptions: dict[str, str] = {}
        for name, style in self.styles.items():
            lora = style.lora.get(family)
            if style.lora and lora is None and style.other_families == "refuse":
                presets.pop(name, None)
                lacked[name] = Lacked("style", style.families())
                continue
            trigger = lora.trigger if lora else ""
            presets[name] = StylePreset(
                name=name,
                prompt_suffix=_joined(trigger, style.prompt),
                negative=style.negative,
                adapter="style" if lora else "",
            )
            descriptions[name] = style.description
        effects: dict[str, EffectEntry] = {}
        for name, effect in self.effects.items():
            lora = effect.lora.get(family)
            if not i2v or (effect.lora and lora is None and effect.other_families == "refuse"):
                lacked[name] = Lacked("effect", effect.families() or tuple(sorted(EFFECT_FAMILIES)))
                continue
            trigger = lora.trigger if lora and "{trigger}" not in effect.prompt else ""
            presets[name] = StylePreset(
                name=name, prompt_suffix=trigger, negative=effect.negative, adapter="effect"
            )
            effects[name] = effect
            descriptions[name] = effect.description
        return StyleMenu(family, presets, effects, lacked, descriptions)


def _joined(*parts: str) -> str:
    return ", ".join(part for part in parts if part)


def problems(exc: ValidationError, source: str) -> list[str]:
    """One line per validation error: `FILE: [styles.anime] lora.wan.weight_name: why`."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "not a field of this table"
        if "[key]" in loc:
            loc = loc[: loc.index("[key]")]
            message = f"{loc[-1]!r}: a name is 1-32 lowercase letters, digits and dashes"
            loc = loc[:-1]
        where = ""
        if len(loc) >= 2 and loc[0] in ("styles", "effects"):
            where, loc = f"[{loc[0]}.{loc[1]}]", loc[2:]
        parts = [f"{source}:", where, f"{'.'.join(loc)}:" if loc else "", message]
        lines.append(" ".join(part for part in parts if part))
    return lines


@dataclass(frozen=True)
class Lacked:
    """A file entry the served family can't use: a style or an effect, and who can."""

    kind: str  # "style" or "effect"
    families: tuple[str, ...]


@dataclass(frozen=True)
class StyleMenu(Mapping[str, StylePreset]):
    """The styles one family offers (a mapping name → preset, as `core.flags` reads `-style`),
    its effects, and the file's entries it lacks with the families that have them."""

    family: str
    presets: Mapping[str, StylePreset]
    effects: Mapping[str, EffectEntry] = field(default_factory=dict)
    lacked: Mapping[str, Lacked] = field(default_factory=dict)
    descriptions: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> StylePreset:
        return self.presets[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.presets)

    def __len__(self) -> int:
        return len(self.presets)

    def style_names(self) -> list[str]:
        """The `-style` names a prompt offers: every preset but the effects."""
        return sorted(name for name in self.presets if name not in self.effects)

    def refusal(self, name: str, shown: str) -> FlagError | None:
        """The error for a style or effect this family lacks, naming the families that have
        it; None when the file has no such entry."""
        lacked = self.lacked.get(name.lower())
        if lacked is None:
            return None
        return FlagError(
            f"`{shown}`: the {lacked.kind} `{name.lower()}` needs a model this server isn't "
            f"running: it is set up for {', '.join(lacked.families)}, and this server runs "
            f"{self.family}.",
            token=shown,
        )


def effect_needs_picture(spec: RenderSpec) -> None:
    """An effect animates a picture: refuse it for a prompt or a video, before anything queues."""
    if spec.style is not None and spec.style.adapter == "effect" and spec.mode != "i2v":
        raise FlagError(
            f"`-style {spec.style.name}` is an effect: it animates a picture. Use "
            f"`/effect effect:{spec.style.name}` with a picture, or /animate with `-style "
            f"{spec.style.name}`.",
            token=f"-style {spec.style.name}",
        )
