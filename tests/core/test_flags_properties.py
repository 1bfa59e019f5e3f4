"""Properties of the flag language: parsing is total, and a spec's command line gives it back."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.commandline import to_command_line
from core.errors import FlagError
from core.flags import parse_request
from core.spec import MAX_SEED, RenderSpec
from core.styles import DEFAULT_STYLES
from tests.bot.capabilities import SOUND_CAPS

CAPS = SOUND_CAPS.model_copy(update={"name": "tiny"})
MODEST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DASHES = ["-", "--", "–", "—"]
FLAG_WORDS = [
    *(f"{dash}{name}" for dash in DASHES for name in ("motion", "camera", "neg", "ar", "seed")),
    *("-gs", "-fps", "-len", "-hide", "-style", "-sound", "-MOTION", "-Hide"),
    *("-camrea", "-x", "-motion3", "-ar=1:1", "-hide.", "-", "--", "—", "-5", "---motion"),
]
VALUE_WORDS = [
    *("0", "3", "4", "9", "-1", "12.5", "1e5", "nan", "4294967295", "4294967296", "٣"),
    *("16:9", "1:1", "3:1", "0:0", "16x9", "2s", "99999:99999"),
    *("pan", "left", "up", "right", "down", "zoom", "in", "out", "rotate", "cw", "acw", "static"),
    *("anime", "pixel-art", "NOIR", "a", "fox", "sci-fi", "x-ray", "fox's", "it's"),
]
QUOTE_CHARS = ['"', "'", "“", "”", "‘", "’", '""', "''"]
SEPARATORS = [" ", " ", " ", "", "  ", "\n", "\t", "\x00", "\u200b", "\u00a0"]

piece = st.one_of(
    st.sampled_from(FLAG_WORDS),
    st.sampled_from(VALUE_WORDS),
    st.sampled_from(QUOTE_CHARS),
    st.text(max_size=4),
)
flaggy_text = st.lists(st.tuples(piece, st.sampled_from(SEPARATORS)), max_size=16).map(
    lambda parts: "".join(p + sep for p, sep in parts)
)


def parse(text: str, seed: int = 7) -> RenderSpec:
    return parse_request(text, capabilities=CAPS, seed_source=lambda: seed)


def assert_total(text: str) -> None:
    """A spec that reads back from its own command line, or a FlagError with a message."""
    try:
        spec = parse(text)
    except FlagError as err:
        assert str(err).strip()
        return
    assert spec.prompt and spec.prompt == spec.prompt.strip()
    line = to_command_line(spec)
    assert parse(line) == spec, line
    assert parse(to_command_line(spec, capabilities=CAPS)) == spec


@MODEST
@given(st.text())
def test_any_text_gives_a_spec_or_a_flag_error(text: str) -> None:
    assert_total(text)


@MODEST
@given(flaggy_text)
def test_flag_soup_gives_a_spec_or_a_flag_error(text: str) -> None:
    assert_total(text)


# --- valid requests, written every way a member might --------------------------------------

PROMPT_WORDS = [
    *("a", "fox", "sci-fi", "x-ray", "fox's", "-", "--", "—", "-5", "it's", '12"', "ok,"),
    *('"-quoted -words"', "'single -quoted'", "“curly -x”", "‘curly’", '"a, b"', "(fox)"),
]
CAMERAS = [
    *("zoom in", "zoom out", "pan left", "pan right", "pan up", "pan down", "pan left up"),
    *("pan up right", "pan right down", "pan down left", "rotate cw", "rotate ccw", "acw"),
    *("clockwise", "rotate anticlockwise", "counterclockwise", "static"),
]
NEG_TEXTS = ["blurry", "text, watermark", '"-blurry, -text"', "'low quality'", "it's dark"]


def flag(name: str, value: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    spelled = st.tuples(st.sampled_from(DASHES), st.sampled_from([name, name.upper()]))
    word = spelled.map("".join)
    if value is None:
        return word
    return st.tuples(word, value).map(" ".join)


def decimal(low: int, high: int) -> st.SearchStrategy[str]:
    """Numbers from low to high with up to two decimals, written as members write them."""
    cents = st.integers(low * 100, high * 100)
    return st.one_of(
        cents.map(lambda c: f"{c // 100}.{c % 100:02d}"),
        cents.map(lambda c: f"{c / 100:g}"),
    )


ratio = st.tuples(st.integers(1, 60), st.integers(1, 60)).filter(
    lambda r: 0.4 <= r[0] / r[1] <= 2.5
)
FLAGS = [
    flag("motion", st.integers(0, 4).map(str)),
    flag("camera", st.sampled_from(CAMERAS).map(lambda c: c.upper() if len(c) % 2 else c)),
    flag("neg", st.sampled_from(NEG_TEXTS)),
    flag("ar", ratio.map(lambda r: f"{r[0]}:{r[1]}")),
    flag("seed", st.integers(0, MAX_SEED).map(str)),
    flag("gs", decimal(8, 24)),
    flag("fps", st.integers(8, 24).map(str)),
    flag("len", decimal(1, 4)),
    flag("hide"),
    flag("style", st.sampled_from(sorted(DEFAULT_STYLES)).map(str.title)),
    flag("sound"),
]

valid_request = st.tuples(
    st.lists(st.sampled_from(PROMPT_WORDS) | st.text("abcxyz", min_size=1), min_size=1, max_size=6),
    st.lists(st.sampled_from(range(len(FLAGS))), unique=True).flatmap(
        lambda picks: st.tuples(*(FLAGS[i] for i in picks))
    ),
).map(lambda req: " ".join([*req[0], *req[1]]))


@MODEST
@given(valid_request, st.integers(0, MAX_SEED))
def test_command_line_reproduces_the_spec(text: str, seed: int) -> None:
    spec = parse(text, seed)
    for line in (to_command_line(spec), to_command_line(spec, capabilities=CAPS)):
        again = parse_request(line, capabilities=CAPS, seed_source=lambda: seed + 1)
        assert again == spec, (text, line)
