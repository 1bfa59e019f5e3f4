"""Does the toxicity classifier add recall to the word lists, and at what false-positive cost?

    python bench/toxicity.py [--examples FILE] [--rules FILE] [--threshold 0.9] [--seconds 1.0]
                             [--show]

On a labelled set of prompts (`tests/data/toxicity_examples.tsv`: label TAB text, label `toxic`
or `ok`) it prints the recall on the toxic examples and the false-positive rate on the ok ones of
(a) the word-list policy alone (flag or block counts as caught), (b) the classifier alone at a
few thresholds, (c) the two together (policy OR classifier) at `--threshold`, then how many
single-prompt checks a second the classifier does on one core (as the bot calls it: one prompt
at a time). `--show` lists what (c) misses and what it wrongly catches.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.policy import Policy  # noqa: E402
from intake.toxicity import DEFAULT_THRESHOLD, ToxicityCheck  # noqa: E402

EXAMPLES = ROOT / "tests" / "data" / "toxicity_examples.tsv"
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)


def read_examples(path: Path = EXAMPLES) -> list[tuple[bool, str]]:
    """(toxic?, text) per line; `#` lines and the `label<TAB>text` header are skipped."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#") or line == "label\ttext":
            continue
        label, sep, text = line.partition("\t")
        if not sep or label not in ("toxic", "ok") or not text.strip():
            raise ValueError(f"{path}:{number}: expected 'toxic' or 'ok', a tab, then the text")
        examples.append((label == "toxic", text))
    return examples


def rates(labels: Sequence[bool], caught: Sequence[bool]) -> tuple[float, float]:
    """(recall on the toxic examples, false-positive rate on the ok ones)."""
    toxic = sum(labels)
    ok = len(labels) - toxic
    hits = sum(c for c, t in zip(caught, labels, strict=True) if t)
    false = sum(c for c, t in zip(caught, labels, strict=True) if not t)
    return hits / max(toxic, 1), false / max(ok, 1)


def policy_catches(policy: Policy, texts: Sequence[str]) -> list[bool]:
    return [policy.check(text).decision != "allow" for text in texts]


def seconds_per_check(check: ToxicityCheck, texts: Sequence[str], seconds: float) -> float:
    """Seconds per `probability` call over `texts`, best of 5 rounds of about `seconds` / 5."""
    check.probability(texts[0])
    start = time.perf_counter()
    for text in texts:
        check.probability(text)
    per = (time.perf_counter() - start) / len(texts)
    rounds = max(1, int(seconds / 5 / max(per, 1e-7) / len(texts)))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            for text in texts:
                check.probability(text)
        best = min(best, (time.perf_counter() - start) / (rounds * len(texts)))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=Path, default=EXAMPLES, help="labelled TSV")
    parser.add_argument("--rules", type=Path, default=None, help="rules file (default: shipped)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent on the speed")
    parser.add_argument("--show", action="store_true", help="list what (c) gets wrong")
    args = parser.parse_args()

    examples = read_examples(args.examples)
    labels = [toxic for toxic, _ in examples]
    texts = [text for _, text in examples]
    started = time.perf_counter()
    check = ToxicityCheck.load(args.threshold)
    load_s = time.perf_counter() - started
    if check is None:
        sys.exit("alt-profanity-check is not installed: pip install 'reelbot[toxicity]'")
    policy = Policy.from_file(args.rules)
    scores = [check.probability(text) or 0.0 for text in texts]
    words = policy_catches(policy, texts)
    print(
        f"{len(examples)} examples: {sum(labels)} toxic, {len(labels) - sum(labels)} ok "
        f"({args.examples.name}); model loaded in {load_s * 1000:.0f} ms"
    )
    print(f"{'detector':<34}{'recall':>8}{'FPR':>8}{'caught':>8}{'false':>7}")

    def row(name: str, caught: Sequence[bool]) -> None:
        recall, fpr = rates(labels, caught)
        hits = sum(c and t for c, t in zip(caught, labels, strict=True))
        false = sum(c and not t for c, t in zip(caught, labels, strict=True))
        print(f"{name:<34}{recall:>8.1%}{fpr:>8.1%}{hits:>8}{false:>7}")

    row("(a) word lists (flag or block)", words)
    for threshold in sorted({*THRESHOLDS, args.threshold}):
        row(f"(b) classifier >= {threshold:.2f}", [s >= threshold for s in scores])
    both = [w or s >= args.threshold for w, s in zip(words, scores, strict=True)]
    row(f"(c) word lists OR classifier {args.threshold:.2f}", both)
    added = sum(b and not w and t for b, w, t in zip(both, words, labels, strict=True))
    print(f"(c) catches {added} toxic example(s) the word lists alone let through")

    per = seconds_per_check(check, texts, args.seconds)
    print(f"classifier: {per * 1e3:.2f} ms/check, {1 / per:,.0f} checks/s (one prompt a call)")
    if args.show:
        for caught, toxic, score, text in zip(both, labels, scores, texts, strict=True):
            if caught != toxic:
                print(f"  {'missed' if toxic else 'false '} {score:.2f}  {text}")


if __name__ == "__main__":
    main()
