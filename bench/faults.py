"""Break a running reelbot on purpose, N times per fault, and count what its members saw.

    python bench/faults.py [--trials 20] [--only worker-kill ...] [--requests 50] [--outage 30]

Each scenario (tests/faults/scenarios.py, the same trials CI runs once each: issue 7's faults,
and issue 17's upload bomb, a /restyle video that decodes to gigabytes) gets its own install
(tests/faults/rig.py): a private Redis server, `python -m worker` processes running the tiny
model with faults a prompt can ask for (the wan family at builtin:tiny for the upload bomb),
SQLite and a media folder, and the unmodified discord.py bot against the fake Discord. Counts
are per request, from the channel:

  delivered   requests whose clip was posted
  duplicates  posts beyond one per request (clips or failure notices)
  lost        requests answered "queued" that never got a clip or a failure notice
  member told requests that got a plain reason instead of a clip (failure notice or refusal)
  recovery    from the fault to the member's answer; each scenario's docstring says which two
              moments (worker start-up, about 8 s on two cores, counts where a worker starts)

Trials that missed an expectation a count does not show (e.g. an OOM retried, a worker that
did not stay up) are listed under the table. Worker heartbeats every 0.3 s with a 2.5 s lease,
max tries 3, and (no-AOF only) the reconciler every ~1 s with a 2 s grace, as in the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults import scenarios as faults  # noqa: E402
from tests.faults.rig import Rig, Trial  # noqa: E402

HEADER = (
    f"{'scenario':<14} {'trials':>6} {'delivered':>10} {'duplicates':>10} {'lost':>5} "
    f"{'member told':>11}  recovery p50 / max (s)"
)


def configured(args: argparse.Namespace) -> dict[str, faults.Scenario]:
    """The scenarios with this run's sizes (50 queued requests, a 30 s outage by default)."""
    scenarios = dict(faults.SCENARIOS)
    sized = {
        "redis-aof": faults.redis_restart(args.requests),
        "redis-no-aof": faults.redis_restart(args.requests),
        "db-locked": faults.db_locked(args.outage),
        "db-down": faults.db_down(args.outage),
    }
    for name, trial in sized.items():
        scenarios[name] = dataclasses.replace(scenarios[name], trial=trial)
    if args.only:
        scenarios = {name: scenarios[name] for name in args.only}
    return scenarios


def row(name: str, trials: list[Trial]) -> str:
    asked = sum(t.asked for t in trials)
    recoveries = [t.recovery_s for t in trials if t.recovery_s is not None]
    recovery = f"{statistics.median(recoveries):.1f} / {max(recoveries):.1f}" if recoveries else "-"
    delivered = f"{sum(t.delivered for t in trials)}/{asked}"
    return (
        f"{name:<14} {len(trials):>6} {delivered:>10} {sum(t.duplicates for t in trials):>10} "
        f"{sum(t.lost for t in trials):>5} {sum(t.told for t in trials):>11}  {recovery}"
    )


async def run_scenario(
    scenario: faults.Scenario, trials: int, root: Path, seed: int
) -> list[Trial]:
    rng = random.Random(seed)
    results = []
    async with Rig(root / scenario.name, **scenario.rig_options) as rig:
        await scenario.prepare(rig)
        for i in range(trials):
            started = time.monotonic()
            trial = await scenario.trial(rig, rng)
            results.append(trial)
            print(
                f"  {scenario.name} {i + 1}/{trials}: {trial.delivered}/{trial.asked} delivered, "
                f"recovery {trial.recovery_s or 0:.1f} s, {time.monotonic() - started:.0f} s"
                + (f"  [{'; '.join(trial.notes)}]" if trial.notes else "")
                + (f"  PROBLEMS: {trial.problems}" if trial.problems else ""),
                file=sys.stderr,
                flush=True,
            )
    return results


async def run(args: argparse.Namespace, root: Path) -> None:
    scenarios = configured(args)
    table: list[tuple[faults.Scenario, list[Trial]]] = []
    for scenario in scenarios.values():
        table.append((scenario, await run_scenario(scenario, args.trials, root, args.seed)))
    print(HEADER)
    for scenario, trials in table:
        print(row(scenario.name, trials))
    print()
    for scenario, _ in table:
        print(f"{scenario.name:<14} {scenario.describe}")
    print(f"(Redis: {args.requests} requests queued; database outages: {args.outage:.0f} s)")
    for scenario, trials in table:
        for i, trial in enumerate(trials, 1):
            for problem in trial.problems:
                print(f"PROBLEM {scenario.name} trial {i}: {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per scenario")
    parser.add_argument(
        "--only",
        choices=sorted(faults.SCENARIOS),
        action="append",
        help="run this scenario (repeatable)",
    )
    parser.add_argument("--requests", type=int, default=50, help="queued when Redis dies")
    parser.add_argument("--outage", type=float, default=30.0, help="database outages, seconds")
    parser.add_argument("--seed", type=int, default=7, help="for the random kill points")
    parser.add_argument("--keep", type=Path, help="work (and leave logs) in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reelbot-faults-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(
            filename=root / "bot.log", level=logging.INFO, format="%(name)s %(message)s"
        )
        asyncio.run(run(args, root))


if __name__ == "__main__":
    main()
