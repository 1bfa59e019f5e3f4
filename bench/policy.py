"""How many prompts per second the prompt policy checks on one core, and how big its rules are.

    python bench/policy.py [--rules FILE] [--seconds 1.0] [--long-share 0.1] [--tricky-share 0.2]

A realistic mix: short and medium everyday prompts (most of the traffic), obfuscated ones (leet,
separators, look-alike letters, zero-width characters), and long prompts at the 1,500-character
cap. Each kind is timed alone (best of 5 rounds), then the mix is derived from those times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.policy import Policy  # noqa: E402
from core.spec import MAX_PROMPT_CHARS  # noqa: E402

EVERYDAY = [
    "a red fox running through fresh snow at dawn",
    "cinematic drone shot of a lighthouse in a storm, waves crashing, 4k",
    "a cat wearing a tiny wizard hat casting spells, pixel art",
    "timelapse of a city skyline from day to night, 16:9, neon lights",
    "an astronaut riding a horse on mars, photorealistic, 35mm film",
    "close-up of raindrops on a spider web, macro, shallow depth of field",
    "a cozy cabin in the woods with smoke from the chimney, watercolor",
    "two kids building a sandcastle at the beach, golden hour",
    "a dragon flying over a medieval castle, epic fantasy, 3d render, 60fps",
    "slow-motion shot of coffee being poured into a cup, steam rising",
    "a robot dancing in the rain on a busy Tokyo street at night, it's raining hard",
    "an old man playing chess in a park in autumn, leaves falling, Sussex countryside",
    "underwater scene with a sea turtle swimming past a coral reef, sun rays from above, "
    "schools of tiny fish, crystal clear water, documentary style, 1080p",
    "a vintage car driving along a coastal road, sunset, film grain, anamorphic lens flare, "
    "the camera slowly pans to follow the car as it rounds the bend by the cliffs",
]
TRICKY = [
    "a n.u.d.e w0man on the b3ach",
    "p0rn0 video",
    "ｎｕｄｅ portrait, cinematic",
    "nu\u200bde figure drawing",
    "s e x y  d a n c e",
    "a рогn star",  # Cyrillic р, о, г
    "n1gg3r",
    "nuuuuude model, b00bs",
    "h-e-n-t-a-i girl",
    "a 13yo in lingerie",
]
SENTENCES = [
    "A sweeping aerial shot over misty mountains at sunrise, golden light spilling across "
    "pine forests. ",
    "A lone hiker in a red jacket walks along the ridge, wind tugging at her hood. ",
    "Volumetric fog, 3d render, 16:9, 24fps, highly detailed, sharp focus, soft shadows. ",
    "The camera slowly dollies in as birds take off from the treetops below the cliffs. ",
    "It's a well-lit, award-winning nature documentary shot on 35mm film with a 50mm lens. ",
]


def long_prompts() -> list[str]:
    prompts = []
    for shift in range(3):
        text = ""
        i = shift
        while len(text) < MAX_PROMPT_CHARS:
            text += SENTENCES[i % len(SENTENCES)]
            i += 1
        prompts.append(text[:MAX_PROMPT_CHARS])
    return prompts


def time_per_check(policy: Policy, prompts: list[str], seconds: float) -> float:
    """Seconds per check over `prompts`, best of 5 rounds of about `seconds` / 5 each."""
    for prompt in prompts:  # warm the character tables
        policy.check(prompt)
    start = time.perf_counter()
    policy.check(prompts[0])
    rounds = max(1, int(seconds / 5 / max(time.perf_counter() - start, 1e-6) / len(prompts)))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            for prompt in prompts:
                policy.check(prompt)
        best = min(best, (time.perf_counter() - start) / (rounds * len(prompts)))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, default=None, help="rules file (default: shipped)")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per kind of prompt")
    parser.add_argument("--long-share", type=float, default=0.1)
    parser.add_argument("--tricky-share", type=float, default=0.2)
    args = parser.parse_args()

    started = time.perf_counter()
    policy = Policy.from_file(args.rules)
    compile_s = time.perf_counter() - started
    size = policy.size
    print(
        f"rules: {size.rules} rules, {size.entries} words and phrases, {size.regexes} regexes; "
        f"compiled patterns {size.pattern_chars:,} characters in {compile_s * 1000:.0f} ms"
    )
    kinds = {
        "everyday": (EVERYDAY, 1 - args.long_share - args.tricky_share),
        "tricky": (TRICKY, args.tricky_share),
        "long": (long_prompts(), args.long_share),
    }
    print(f"{'kind':<10}{'share':>7}{'chars':>8}{'µs/check':>10}{'checks/s':>11}  decisions")
    mix_s = 0.0
    for name, (prompts, share) in kinds.items():
        per = time_per_check(policy, prompts, args.seconds)
        mix_s += share * per
        chars = sum(len(p) for p in prompts) / len(prompts)
        decisions: dict[str, int] = {}
        for prompt in prompts:
            decision = policy.check(prompt).decision
            decisions[decision] = decisions.get(decision, 0) + 1
        summary = ", ".join(f"{k} {v}" for k, v in sorted(decisions.items()))
        print(f"{name:<10}{share:>7.0%}{chars:>8.0f}{per * 1e6:>10.1f}{1 / per:>11,.0f}  {summary}")
    print(f"{'mix':<10}{1:>7.0%}{'':>8}{mix_s * 1e6:>10.1f}{1 / mix_s:>11,.0f}  (one core)")


if __name__ == "__main__":
    main()
