"""The abuse classifier beside the word lists (`intake.toxicity`), with the real model:
what it scores, that it never raises, how `screen` (`intake.screening`) uses it, and that it
adds recall on our own labelled prompts (`tests/data/toxicity_examples.tsv`) without flagging the
benign ones."""

from __future__ import annotations

import json
import logging
import runpy
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.intake.requests import Asker
from bot.settings import BotSettings
from cli.main import main
from core.errors import ContentBlocked
from core.flags import parse_request
from core.policy import default_policy
from intake.screening import screen
from intake.toxicity import DEFAULT_THRESHOLD, REASON, ToxicityCheck
from tests.bot.capabilities import CAPS
from tests.harness.paths import ROOT

pytest.importorskip("profanity_check")

EXAMPLES = ROOT / "tests" / "data" / "toxicity_examples.tsv"
ABUSIVE = "make a video of my classmate Tom being a worthless fat pig"  # no listed word in it
BENIGN = [
    "a killer whale leaping out of the ocean at sunset",
    "shooting stars over a desert campsite, timelapse",
    "a bloody mary cocktail being garnished with celery, slow motion",
    "kids playing football in a muddy park after school",
    "a red fox running through fresh snow at dawn",
]


@pytest.fixture(scope="module")
def check() -> ToxicityCheck:
    loaded = ToxicityCheck.load(DEFAULT_THRESHOLD)
    assert loaded is not None
    return loaded


def read_examples() -> list[tuple[bool, str]]:
    rows = []
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line == "label\ttext" or not line.strip():
            continue
        label, _, text = line.partition("\t")
        assert label in ("toxic", "ok") and text.strip(), line
        rows.append((label == "toxic", text))
    return rows


# --- the classifier -----------------------------------------------------------------------------
def test_a_plainly_abusive_prompt_scores_at_the_threshold(check: ToxicityCheck) -> None:
    assert default_policy().check(ABUSIVE).decision == "allow"  # what the words miss
    score = check.probability(ABUSIVE)
    assert score is not None and score >= DEFAULT_THRESHOLD


@pytest.mark.parametrize("prompt", BENIGN)
def test_benign_prompts_score_below_it(check: ToxicityCheck, prompt: str) -> None:
    score = check.probability(prompt)
    assert score is not None and score < DEFAULT_THRESHOLD


def test_full_width_and_look_alike_letters_read_as_plain_ones(check: ToxicityCheck) -> None:
    plain = check.probability("you worthless bitch")
    assert plain is not None and plain >= DEFAULT_THRESHOLD
    assert check.probability("ｙｏｕ ｗｏｒｔｈｌｅｓｓ ｂｉｔｃｈ") == pytest.approx(plain)


@pytest.mark.parametrize(
    "text", ["", " ", "\x00\x1f\u200b", "\ud800 lone surrogate", "😀" * 3000, "a " * 100_000]
)
def test_any_text_gets_a_probability(check: ToxicityCheck, text: str) -> None:
    score = check.probability(text)
    assert score is not None and 0.0 <= score <= 1.0


def test_only_the_first_max_chars_are_read() -> None:
    seen: list[str] = []

    def predict(texts: list[str]) -> list[float]:
        seen.extend(texts)
        return [0.5]

    check = ToxicityCheck(predict, max_chars=10)
    assert check.probability("abcdefghij" + "x" * 5000) == 0.5
    assert seen == ["abcdefghij"]


def test_a_failing_model_means_no_score_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    def broken(texts: list[str]) -> list[float]:
        raise RuntimeError("boom")

    check = ToxicityCheck(broken)
    with caplog.at_level(logging.ERROR, logger="intake.toxicity"):
        assert check.probability("a") is None
        assert check.probability("b") is None
        assert check.decide("you worthless bitch") is None
    assert len(caplog.records) == 1


def test_threads_share_one_check(check: ToxicityCheck) -> None:
    texts = [ABUSIVE, *BENIGN] * 4
    expected = [check.probability(t) for t in texts]
    results: dict[int, list[float | None]] = {}

    def work(n: int) -> None:
        results[n] = [check.probability(t) for t in texts]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r == expected for r in results.values())


def test_off_by_setting_or_without_the_package(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert BotSettings().toxicity_threshold == DEFAULT_THRESHOLD
    assert ToxicityCheck.load(BotSettings(toxicity_threshold=0).toxicity_threshold) is None
    assert ToxicityCheck.load(None) is None
    with pytest.raises(ValueError):
        ToxicityCheck(lambda texts: [0.0], threshold=0)
    monkeypatch.setitem(sys.modules, "profanity_check", None)  # as if not installed
    with caplog.at_level(logging.WARNING, logger="intake.toxicity"):
        assert ToxicityCheck.load(0.9) is None
    assert len(caplog.records) == 1 and "toxicity check off" in caplog.text


# --- screen -------------------------------------------------------------------------------------
class NoBans:
    async def active(self, owner_id: str, guild_id: int | None) -> None:
        return None


ASKER = Asker(user_id=1, display_name="alice", guild_id=2, channel_id=3)


async def screened(toxicity: ToxicityCheck | None, text: str) -> Any:
    """`screen` as intake calls it, with nobody banned."""
    spec = parse_request(text, capabilities=CAPS)
    return await screen(spec, ASKER, bans=NoBans(), policy=default_policy(), toxicity=toxicity)


async def test_screen_flags_an_abusive_prompt_the_word_lists_miss(check: ToxicityCheck) -> None:
    decision = await screened(check, ABUSIVE)
    assert decision.decision == "flag"
    assert (decision.rule, decision.category, decision.field) == ("toxicity", "toxicity", "prompt")
    assert decision.reason == REASON
    score = check.probability(ABUSIVE)
    assert score is not None and decision.matched == f"score {score:.2f}"
    assert decision.normalized == default_policy().check(ABUSIVE).normalized


async def test_screen_allows_benign_prompts(check: ToxicityCheck) -> None:
    for prompt in BENIGN:
        assert (await screened(check, prompt)).decision == "allow", prompt


async def test_screen_reads_the_prompt_not_the_negative_prompt(check: ToxicityCheck) -> None:
    text = "a red fox in the snow -neg ugly worthless stupid bitch, deformed, worst quality"
    spec = parse_request(text, capabilities=CAPS)
    assert spec.negative_prompt and "bitch" in spec.negative_prompt
    decision = await screen(spec, ASKER, bans=NoBans(), policy=default_policy(), toxicity=check)
    assert decision.decision == "allow"


async def test_the_word_lists_decide_first(check: ToxicityCheck) -> None:
    decision = await screened(check, "a nude marble statue in a museum, you idiot")
    assert decision.rule == "sexual.nudity"
    with pytest.raises(ContentBlocked):
        await screened(check, "a p0rn clip of that stupid idiot")


async def test_screen_without_the_check_is_the_word_lists_alone() -> None:
    assert (await screened(None, ABUSIVE)).decision == "allow"


def test_reelbot_policy_shows_the_score(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", ABUSIVE, "--toxicity"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decision"] == "flag" and out["rule"] == "toxicity"
    assert out["toxicity"] >= DEFAULT_THRESHOLD
    assert main(["policy", BENIGN[0], "--toxicity"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decision"] == "allow" and out["toxicity"] < DEFAULT_THRESHOLD


# --- the measurement ----------------------------------------------------------------------------
def test_the_labelled_set_is_big_enough_and_balanced() -> None:
    rows = read_examples()
    toxic = sum(t for t, _ in rows)
    assert len(rows) >= 120 and toxic >= 40 and len(rows) - toxic >= 60
    assert len({text for _, text in rows}) == len(rows), "duplicates"


def test_the_classifier_adds_recall_to_the_word_lists_at_two_percent_fpr(
    check: ToxicityCheck,
) -> None:
    """The reason the check exists: over our own examples, word lists OR classifier at the
    shipped threshold catch strictly more abusive prompts than the word lists alone, and wrongly
    hold at most 2% of the benign ones."""
    policy = default_policy()
    rows = read_examples()
    words = [policy.check(text).decision != "allow" for _, text in rows]
    model = [(check.probability(text) or 0.0) >= DEFAULT_THRESHOLD for _, text in rows]
    both = [w or m for w, m in zip(words, model, strict=True)]
    toxic = [text for t, text in rows if t]
    ok = [text for t, text in rows if not t]

    def recall(caught: list[bool]) -> float:
        return sum(c for c, (t, _) in zip(caught, rows, strict=True) if t) / len(toxic)

    false = [text for c, (t, text) in zip(both, rows, strict=True) if c and not t]
    assert recall(both) > recall(words)
    assert len(false) / len(ok) <= 0.02, false


def test_the_bench_prints_its_figures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["bench/toxicity.py", "--seconds", "0.05"])
    runpy.run_path(str(Path(ROOT, "bench", "toxicity.py")), run_name="__main__")
    out = capsys.readouterr().out
    for needle in ("(a) word lists", "(b) classifier >= 0.90", "(c) word lists OR", "checks/s"):
        assert needle in out
