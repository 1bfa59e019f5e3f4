"""A second opinion beside the word lists: how abusive a prompt reads, as a probability.

Why: the word lists (`core.policy`) catch listed words, however spelt, but not an insult or
harassment phrased without one: "make a video of my classmate Tom being a worthless fat pig"
has no listed word in it. A classifier that has seen many insults catches much of that.

What it is: `alt-profanity-check`, whose model ships in its wheel (no download): a linear SVM
(calibrated to a probability) over TF-IDF word features, trained on human-labelled toxic and
clean comments (Wikipedia talk pages and tweets, per its original author), with English stop
words dropped. So it knows abusive *language*: insults, slurs, swearing, some hate. It does not
know sexual or violent *imagery* ("a nude statue" scores 0.05, "a severed head" 0.42: both well
under the threshold), it reads words, not meaning ("my dumb cat" scores high; "gypsies are vermin"
can score low), and it is English only. That is why it only ever holds a request for a moderator
(see `intake.screening.screen`), never refuses one by itself, and only reads the prompt:
negative prompts are full of "ugly, deformed, worst quality".

The package (and scikit-learn, which it pulls) is optional: `pip install 'reelbot[toxicity]'`.
Without it `ToxicityCheck.load` says so in one log line and returns None: the check is off.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from core.policy import PolicyDecision, fold

log = logging.getLogger(__name__)

# Chosen with bench/toxicity.py on tests/data/toxicity_examples.tsv: no benign example there
# scores this high, most of the abusive ones the word lists miss do.
DEFAULT_THRESHOLD = 0.9
MAX_CHARS = 2_000  # prompts are at most 1,500 characters; longer text is cut, not refused
RULE = "toxicity"
REASON = "This prompt reads as abusive toward someone; a moderator will look at it first."

Predict = Callable[[list[str]], Sequence[float]]


class ToxicityCheck:
    """The classifier, behind a lock; `probability` is thread-safe and never raises.

    About 3 ms a call on one core: callers on the event loop run it in a thread."""

    def __init__(
        self, predict: Predict, threshold: float = DEFAULT_THRESHOLD, *, max_chars: int = MAX_CHARS
    ) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], not {threshold!r}")
        self._predict = predict
        self.threshold = threshold
        self.max_chars = max_chars
        self._lock = threading.Lock()
        self._failed = False

    @classmethod
    def load(cls, threshold: float | None = DEFAULT_THRESHOLD) -> ToxicityCheck | None:
        """The check with the model loaded (about a second, once), or None when it is off:
        `threshold` None or 0, or the package not installed (said in one log line)."""
        if not threshold:
            return None
        try:
            from profanity_check import predict_prob
        except Exception as exc:  # ImportError, or a model that does not unpickle
            log.warning(
                "toxicity check off: alt-profanity-check is not usable (%s); "
                "pip install 'reelbot[toxicity]' to turn it on",
                exc,
            )
            return None
        return cls(predict_prob, threshold)

    def probability(self, text: str) -> float | None:
        """How likely `text` is abusive, 0 to 1 (its first `max_chars` characters, folded as the
        word lists fold them: full-width and look-alike letters read as plain ones). None if
        the model failed, which it should not (logged once)."""
        try:
            folded = fold(str(text)[: self.max_chars])
            with self._lock:
                return float(self._predict([folded])[0])
        except Exception:
            if not self._failed:
                self._failed = True
                log.exception("toxicity check failed; treating the text as not scored")
            return None

    def decide(self, prompt: str, normalized: str = "") -> PolicyDecision | None:
        """A "flag" decision when the prompt scores at or above the threshold, else None."""
        score = self.probability(prompt)
        if score is None or score < self.threshold:
            return None
        return PolicyDecision(
            "flag",
            rule=RULE,
            category=RULE,
            reason=REASON,
            field="prompt",
            matched=f"score {score:.2f}",
            normalized=normalized,
        )
