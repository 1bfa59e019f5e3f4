"""The prompt policy: what it allows, holds for review and refuses, however the text is dressed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import main
from core.errors import ConfigError
from core.policy import MAX_CHECKED_CHARS, Policy, default_policy, words_of
from core.spec import StylePreset

POLICY = default_policy()
MODEST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decided(prompt: str, negative: str = "") -> tuple[str, str | None]:
    d = POLICY.check(prompt, negative)
    return d.decision, d.rule


# ------------------------------------------------------------------- obfuscations are caught
@pytest.mark.parametrize(
    ("prompt", "decision", "rule"),
    [
        ("a nude woman on a beach", "flag", "sexual.nudity"),
        ("NUDE", "flag", "sexual.nudity"),
        ("nudes", "flag", "sexual.nudity"),
        # leetspeak, both readings of 1
        ("a nud3 w0man", "flag", "sexual.nudity"),
        ("p0rn", "block", "sexual.explicit"),
        ("pr0n", "allow", None),  # an anagram is not the word
        ("h3nt41", "block", "sexual.explicit"),
        ("pu$$y", "flag", "sexual.slang"),
        ("@ss n4ked", "flag", "sexual.nudity"),
        ("t1ts", "flag", "sexual.nudity"),
        ("n1gg3r", "block", "hate.slurs"),
        ("1oli", "block", "minors.explicit"),  # 1 read as l
        # repeated letters
        ("nuuuuuuude", "flag", "sexual.nudity"),
        ("pooorrrn", "block", "sexual.explicit"),
        ("boooobs", "flag", "sexual.nudity"),
        # separators inside the word
        ("n.u.d.e", "flag", "sexual.nudity"),
        ("n u d e", "flag", "sexual.nudity"),
        ("n-u-d-e", "flag", "sexual.nudity"),
        ("n_u_d_e", "flag", "sexual.nudity"),
        ("n*u*d*e", "flag", "sexual.nudity"),
        ("a n u d e woman", "flag", "sexual.nudity"),
        ("nu.de", "flag", "sexual.nudity"),
        ("p-o-r-n", "block", "sexual.explicit"),
        ("s 3 x", "flag", "sexual.slang"),
        # confusable letters: Cyrillic, Greek, full-width, small capitals, math letters, circled
        ("nudе", "flag", "sexual.nudity"),  # Cyrillic е
        ("рогn", "block", "sexual.explicit"),  # Cyrillic р, о, г
        ("ΝUDΕ", "flag", "sexual.nudity"),  # Greek capital Nu and Epsilon
        ("ｎｕｄｅ", "flag", "sexual.nudity"),
        ("ɴᴜᴅᴇ", "flag", "sexual.nudity"),
        ("𝐧𝐮𝐝𝐞", "flag", "sexual.nudity"),
        ("ⓝⓤⓓⓔ", "flag", "sexual.nudity"),
        ("🇳🇺🇩🇪", "flag", "sexual.nudity"),
        ("nüdé", "flag", "sexual.nudity"),
        ("n̶u̶d̶e̶", "flag", "sexual.nudity"),
        # invisible characters
        ("nu\u200bde", "flag", "sexual.nudity"),
        ("n\u200cu\u200dd\u2060e\ufeff", "flag", "sexual.nudity"),
        ("nu\u00adde", "flag", "sexual.nudity"),
        ("nu\x00de", "flag", "sexual.nudity"),
        ("nu\u3164de", "flag", "sexual.nudity"),
        # phrases, with or without their spaces
        ("child porn", "block", "minors.explicit"),
        ("childporn", "block", "minors.explicit"),
        ("ch1ld-p0rn", "block", "minors.explicit"),
        ("heil hitler", "block", "hate.extremism"),
        ("14/88", "block", "hate.extremism"),
        ("Joe Biden giving a speech", "flag", "real_people.public_figures"),
        ("a deepfake of my boss", "flag", "real_people.deepfake"),
        ("a dismembered corpse", "flag", "gore.graphic"),
        ("severed heads on spikes", "flag", "gore.graphic"),
    ],
)
def test_obfuscations_are_caught(prompt: str, decision: str, rule: str | None) -> None:
    assert decided(prompt) == (decision, rule)


# ---------------------------------------------------------------- innocent words are not
SCUNTHORPE = [
    "classic",
    "Sussex",
    "cocktail",
    "therapist",
    "grape",
    "analysis",
    "button",
    "shiitake",
    "Scunthorpe",
    "assassin",
    "cumulus",
    "Dickens",
    "Niger river",
    "bobs his head",
    "a night at the museum",
    "title sequence",
    "nudibranch",
    "sextant",
    "Essex",
    "summa cum laude",
    "Moby Dick",
    "a 7175 bus",
    "4k 3d render, 16:9, 1080p, 60fps, 35mm",
    "a kid flying a kite",
    "a teen skateboarding",
    "children playing in the park at 13:00",
    "ten year old oak tree",
    "it's a dog's life",
    "sci-fi close-up of a well-lit x-ray",
    "a Cyrillic word: привет мир",
    "日本の桜",
    "",
]


@pytest.mark.parametrize("prompt", SCUNTHORPE)
def test_innocent_words_pass(prompt: str) -> None:
    assert decided(prompt) == ("allow", None)


# --------------------------------------------------------------------- minors always block
@pytest.mark.parametrize(
    "prompt",
    [
        "sexy teen",
        "a nude child",
        "13yo n4ked",
        "a 13-year-old in lingerie",
        "thirteen year old topless",
        "aged 12, erotic",
        "schoolgirl porn",
        "little girl, nsfw",
        "s e x y k i d",
        "loli",
        "lolicon art",
        "jailbait",
    ],
)
def test_sexual_content_with_minors_is_always_blocked(prompt: str) -> None:
    assert POLICY.check(prompt).decision == "block"
    assert POLICY.check(prompt).category == "minors"


def test_an_adult_age_is_not_a_minor() -> None:
    assert decided("a 25 year old nude model") == ("flag", "sexual.nudity")
    assert decided("an 18 year old, nude") == ("flag", "sexual.nudity")


# -------------------------------------------------------------------------- negative prompt
@pytest.mark.parametrize(
    ("prompt", "negative", "decision", "rule"),
    [
        # asking NOT to get nudity, gore or kids is what a negative prompt is for
        ("a woman at the beach", "nude, nsfw, naked, gore", "allow", None),
        ("a woman nude", "child, kid, blurry", "flag", "sexual.nudity"),
        # a slur or an abuse term is refused wherever it is
        ("a dog", "nigger", "block", "hate.slurs"),
        ("a dog", "loli", "block", "minors.explicit"),
        # steering sexual content away from adults
        ("a nude person", "adult, mature", "block", "minors.negative_adult"),
        ("a portrait", "adult, mature", "allow", None),
    ],
)
def test_negative_prompt(prompt: str, negative: str, decision: str, rule: str | None) -> None:
    d = POLICY.check(prompt, negative)
    assert (d.decision, d.rule) == (decision, rule)
    if rule is not None and decision == "block" and prompt in ("a dog", "a nude person"):
        assert d.field == "negative"


# ---------------------------------------------------------------------- styles and results
def test_a_style_is_not_a_bypass() -> None:
    spicy = StylePreset(name="spicy", prompt_suffix="n.u.d.e, explicit")
    assert POLICY.check("a portrait", style=spicy).rule == "sexual.nudity"
    # the style's negative counts too: nudity while steering away from adults
    sneaky = StylePreset(name="sneaky", negative="adult")
    assert POLICY.check("a portrait", style=sneaky).decision == "allow"
    assert POLICY.check("a nude portrait", style=sneaky).rule == "minors.negative_adult"
    assert POLICY.check("a red fox", style="noir").decision == "allow"


def test_a_decision_names_its_rule_and_reason() -> None:
    d = POLICY.check("a N.U.D.E photo")
    assert d.to_json() == {
        "decision": "flag",
        "rule": "sexual.nudity",
        "category": "sexual",
        "reason": "Nudity is reviewed by a moderator before it is made.",
        "field": "prompt",
        "matched": "nude",
        "normalized": "a n u d e photo",
    }


def test_the_strongest_decision_wins() -> None:
    assert decided("gore and porn") == ("block", "sexual.explicit")
    assert decided("a gory nude") == ("flag", "sexual.nudity")  # a tie: the earlier rule


LONG = (
    "A sweeping aerial shot over misty mountains at sunrise, a well-lit close-up of a hiker, "
    "3d render, 16:9, 24fps, award-winning, sci-fi. "
) * 12


@pytest.mark.parametrize(
    ("hidden", "decision", "rule"),
    [
        ("", "allow", None),
        ("a nu-de figure", "flag", "sexual.nudity"),
        ("ch.ild p.orn", "block", "minors.explicit"),
        ("a t-e-e-n in lingerie", "block", "minors.sexualised"),
        ("a s3xy teen", "block", "minors.sexualised"),
        ("moby di.ck", "allow", None),
    ],
)
def test_a_long_prompt_is_read_whole(hidden: str, decision: str, rule: str | None) -> None:
    middle = len(LONG) // 2
    prompt = (LONG[:middle] + hidden + " " + LONG[middle:])[:1500]
    assert len(prompt) == 1500
    assert decided(prompt) == (decision, rule)


def test_exempt_phrases_spelled_out() -> None:
    assert decided("m o b y d i c k") == ("allow", None)
    assert decided("d i c k") == ("flag", "sexual.slang")


def test_check_spec_reads_the_style() -> None:
    from core.flags import parse_request
    from tests.bot.capabilities import SOUND_CAPS

    caps = SOUND_CAPS.model_copy(update={"name": "tiny"})
    spec = parse_request("a red fox -neg adult -style noir", capabilities=caps)
    assert POLICY.check_spec(spec).decision == "allow"
    spec = parse_request("a n.u.d.e fox -neg adult -style noir", capabilities=caps)
    assert POLICY.check_spec(spec).rule == "minors.negative_adult"


def test_an_overlong_request_is_held_not_skipped() -> None:
    d = POLICY.check("a fox " * (MAX_CHECKED_CHARS // 5))
    assert (d.decision, d.rule) == ("flag", "length")


def test_normalization() -> None:
    assert words_of("  Ｈｅｌｌｏ,\u200b  Wörld!\t\n") == "hello world"
    assert words_of("it’s") == "its"


# --------------------------------------------------------------------- operator's rules file
CUSTOM = """
version = 1
exempt = ["hot dog"]

[[rules]]
id = "brand.rival"
category = "brand"
decision = "block"
reason = "We don't make ads for the competition."
words = ["acme"]
phrases = ["road runner"]
regexes = ['wile ?e\\b']

[[rules]]
id = "food.hot"
category = "food"
decision = "flag"
reason = "Spicy."
words = ["hot"]
"""


def test_a_custom_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(CUSTOM)
    policy = Policy.from_file(path)
    assert policy.check("an ACME anvil").rule == "brand.rival"
    assert policy.check("the roadrunner").rule == "brand.rival"
    assert policy.check("w1le e coyote").rule == "brand.rival"
    assert policy.check("a hot dog").decision == "allow"  # exempt
    assert policy.check("a hot day").rule == "food.hot"
    assert policy.check("a nude").decision == "allow"  # the defaults are not included


def test_a_rules_file_can_extend_the_default(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        'include_default = true\n[[rules]]\nid = "sexual.nudity"\ncategory = "sexual"\n'
        'decision = "block"\nreason = "No nudity here."\nwords = ["nude"]\n'
    )
    policy = Policy.from_file(path)
    assert (policy.check("n u d e").decision, policy.check("n u d e").reason) == (
        "block",
        "No nudity here.",
    )
    assert policy.check("p0rn").rule == "sexual.explicit"


RULE = '[[rules]]\nid = "x"\ncategory = "c"\n'
FLAG = RULE + 'decision = "flag"\nreason = "r"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 1\n[[rules]\n", "not valid TOML"),
        ("version = 2\n", "version must be 1"),
        ("colour = 1\n", "unknown key(s) colour"),
        (RULE + 'decision = "ban"\nreason = "r"\nwords = ["a"]', "rule 'x': decision must be"),
        (RULE + 'decision = "block"\nwords = ["a"]', "rule 'x': a block rule needs a reason"),
        (FLAG, "rule 'x': has no words, phrases or regexes"),
        (FLAG + 'regexes = ["(unclosed"]', "rule 'x': regex '(unclosed' does not compile"),
        (FLAG + 'regexes = ["(a|b)c"]', "rule 'x': regex '(a|b)c': write (?:...) instead"),
        (FLAG + 'words = ["two words"]', "rule 'x': word 'two words' reads as several words"),
        (FLAG + 'words = ["!!"]', "rule 'x': word '!!' has no letters or digits"),
        (FLAG + 'words = "nude"', "rule 'x': words must be a list of strings"),
        (FLAG + 'words = ["a"]\nrequires = ["nothing"]', "rule 'x': requires 'nothing'"),
        (FLAG + 'words = ["a"]\ncolour = "red"', "rule 'x': unknown key(s) colour"),
        (FLAG + 'words = ["a"]\n' + FLAG + 'words = ["b"]', "rule 'x': the id is used by an"),
        ('[[rules]]\ncategory = "c"\ndecision = "flag"', "rules[0]: id is missing"),
    ],
)
def test_a_bad_rules_file_names_the_file_rule_and_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        Policy.from_file(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_a_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Cannot read the policy file .*nothing\.toml"):
        Policy.from_file(tmp_path / "nothing.toml")


# ----------------------------------------------------------------------------- properties
SEPARATORS = [".", "-", "_", "*", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]


@MODEST
@given(st.text(max_size=300), st.text(max_size=100))
def test_check_is_total(prompt: str, negative: str) -> None:
    d = POLICY.check(prompt, negative)
    assert d.decision in ("allow", "flag", "block")
    if d.decision != "allow":
        assert d.rule and d.reason


@MODEST
@given(
    st.sampled_from(["porn", "nigger", "loli", "hentai", "faggot", "gangbang", "kike"]),
    st.lists(st.tuples(st.integers(0, 20), st.sampled_from(SEPARATORS)), max_size=6),
    st.sampled_from(["", "a ", "look: ", "a photo of "]),
    st.sampled_from(["", " please", ", 4k", "!"]),
)
def test_separators_inside_a_blocked_word_keep_it_blocked(
    word: str, inserts: list[tuple[int, str]], before: str, after: str
) -> None:
    chars = list(word)
    for position, sep in inserts:
        chars.insert(1 + position % (len(chars) - 1), sep)
    text = before + "".join(chars) + after
    assert POLICY.check(text).decision == "block", text


@MODEST
@given(st.sampled_from(["porn", "nigger", "hentai"]), st.sampled_from([" ", ". ", " - "]))
def test_a_blocked_word_spelled_out_stays_blocked(word: str, sep: str) -> None:
    assert POLICY.check("a " + sep.join(word) + " video").decision == "block"


# ------------------------------------------------------------------------------------ CLI
def test_cli_policy_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "a p0rn clip", "--negative", "blurry"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decision"] == "block"
    assert out["rule"] == "sexual.explicit"
    assert out["category"] == "sexual"
    assert out["reason"] == "Explicit sexual content isn't allowed here."
    assert out["normalized"] == "a p0rn clip"


def test_cli_policy_allows_and_reads_the_rules_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["policy", "a red fox"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "decision": "allow",
        "rule": None,
        "category": None,
        "reason": "",
        "field": None,
        "matched": None,
        "normalized": "a red fox",
    }
    path = tmp_path / "rules.toml"
    path.write_text(CUSTOM)
    monkeypatch.setenv("REELBOT_POLICY_FILE", str(path))
    assert main(["policy", "an acme anvil"]) == 0
    assert json.loads(capsys.readouterr().out)["rule"] == "brand.rival"
    path.write_text("version = 3\n")
    assert main(["policy", "an acme anvil"]) != 0
    assert "version must be 1" in capsys.readouterr().err
