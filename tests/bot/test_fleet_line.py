"""/info's Workers line names what a family's operator turned off (sound, a typed line's voice);
a worker that announced nothing of it reads as before."""

from __future__ import annotations

from bot.cogs.info import fleet_line
from jobs.fleet import FamilyWorkers, Fleet


def test_the_workers_line_says_what_a_family_lacks() -> None:
    live = {"ltx": FamilyWorkers(2, ("t2v", "i2v")), "tiny": FamilyWorkers(1, ("t2v", "speak"))}
    old = Fleet(live=live)  # no extras announced: nothing said
    assert fleet_line(old) == "Workers: `ltx` ×2 (t2v, i2v); `tiny` ×1 (t2v, speak)."
    fleet = Fleet(live=live, extras={"ltx": ("sound", "voice"), "tiny": ()})
    assert fleet_line(fleet) == (
        "Workers: `ltx` ×2 (t2v, i2v); `tiny` ×1 (t2v, speak; no sound; no voice for typed lines)."
    )
