from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.fairshare import (
    QUEUE_OF,
    RELAX_QUEUE,
    Admitted,
    Caps,
    Cursor,
    FairShare,
    QuotaExceeded,
    clip_ready_in,
    duration,
    estimate,
    fair_order,
    families_of,
    in_flight_refusal,
    lane,
    next_after,
    per_day_refusal,
    plan,
    queue_of,
    ready_in,
    route,
    size_class,
    split_lane,
    targets,
)
from core.spec import DEFAULT_QUEUE

FAST_ONLY = {"fast": DEFAULT_QUEUE, "relax": DEFAULT_QUEUE}
SPLIT = {"fast": DEFAULT_QUEUE, "relax": RELAX_QUEUE}
SHARE = FairShare(relax_every=3)


def jobs(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def who(admissions: list[Admitted]) -> list[str]:
    return [a.member for a in admissions]


# --- table-driven -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "keys, last, expected",
    [
        ([], None, None),
        (["b", "a"], None, "a"),
        (["a", "b", "c"], "a", "b"),
        (["a", "b", "c"], "c", "a"),  # wraps round
        (["a", "c"], "b", "c"),  # the last one served may have left the ring
    ],
)
def test_next_after(keys, last, expected) -> None:
    assert next_after(keys, last) == expected


def test_a_newcomer_goes_next_not_behind_twenty() -> None:
    queues = {"fast": {"g": {"alice": jobs("a", 20)}}}
    first, cursor = plan(queues, Cursor(), {DEFAULT_QUEUE: 1}, FAST_ONLY, SHARE)
    assert who(first) == ["alice"]
    queues = {"fast": {"g": {"alice": jobs("a", 20)[1:], "bob": ["b0"]}}}
    order = fair_order(queues, cursor, FAST_ONLY, SHARE)
    assert who(order)[:3] == ["bob", "alice", "alice"]


@pytest.mark.parametrize(
    "queues, expected",
    [
        # guilds take turns first, then members within a guild
        (
            {"A": {"alice": jobs("a", 3), "bob": ["b0"]}, "B": {"carol": jobs("c", 3)}},
            ["alice", "carol", "bob", "carol", "alice", "carol", "alice"],
        ),
        # a big guild gets its guild's share, not its members' count of shares
        (
            {"A": {m: [m + "0", m + "1"] for m in ("m1", "m2", "m3")}, "B": {"solo": ["s0"]}},
            ["m1", "solo", "m2", "m3", "m1", "m2", "m3"],
        ),
    ],
)
def test_round_robin_over_guilds_then_members(queues, expected) -> None:
    order = fair_order({"fast": queues}, Cursor(), FAST_ONLY, SHARE)
    assert who(order) == expected


def test_the_cursor_carries_the_turn_over_to_the_next_step() -> None:
    queues = {"fast": {"g": {"a": jobs("a", 2), "b": jobs("b", 2), "c": jobs("c", 2)}}}
    done, cursor = plan(queues, Cursor(), {DEFAULT_QUEUE: 2}, FAST_ONLY, SHARE)
    assert who(done) == ["a", "b"]
    rest = {"fast": {"g": {"a": ["a1"], "b": ["b1"], "c": jobs("c", 2)}}}
    assert who(fair_order(rest, cursor, FAST_ONLY, SHARE)) == ["c", "a", "b", "c"]


def test_relax_shares_the_fast_queue_every_k_admissions() -> None:
    queues = {"fast": {"g": {"f": jobs("f", 8)}}, "relax": {"g": {"r": jobs("r", 3)}}}
    order = fair_order(queues, Cursor(), FAST_ONLY, FairShare(relax_every=3))
    assert [a.tier[0] for a in order] == list("ffrffrffrff")
    assert {a.queue for a in order} == {DEFAULT_QUEUE}


def test_relax_goes_at_once_when_fast_is_empty() -> None:
    queues = {"fast": {}, "relax": {"g": {"r": jobs("r", 2)}}}
    done, _ = plan(queues, Cursor(), {DEFAULT_QUEUE: 5}, FAST_ONLY, SHARE)
    assert [a.job for a in done] == ["r0", "r1"]


def test_tiers_with_their_own_workers_fill_their_own_queues() -> None:
    queues = {"fast": {"g": {"f": jobs("f", 5)}}, "relax": {"g": {"r": jobs("r", 5)}}}
    free = {DEFAULT_QUEUE: 2, RELAX_QUEUE: 1}
    done, _ = plan(queues, Cursor(), free, SPLIT, SHARE)
    assert Counter(a.queue for a in done) == {DEFAULT_QUEUE: 2, RELAX_QUEUE: 1}
    assert all(QUEUE_OF[a.tier] == a.queue for a in done)


@pytest.mark.parametrize(
    "workers, expected",
    [
        ({}, SPLIT),  # no workers: each waits for its own
        ({DEFAULT_QUEUE: 2}, FAST_ONLY),  # one GPU pool: relax shares it
        ({DEFAULT_QUEUE: 1, RELAX_QUEUE: 1}, SPLIT),
        ({RELAX_QUEUE: 1}, {"fast": RELAX_QUEUE, "relax": RELAX_QUEUE}),
    ],
)
def test_route(workers, expected) -> None:
    """Within one family (its queues are the tier's queue @ the family)."""
    suffixed = {lane(q, "ltx"): n for q, n in workers.items()}
    assert route(suffixed, "ltx") == {t: lane(q, "ltx") for t, q in expected.items()}


@pytest.mark.parametrize(
    "workers, family, expected",
    [
        # another family's workers are no reason to share: each family routes on its own
        ({queue_of("fast", "ltx"): 2}, "wan_vace", SPLIT),
        ({queue_of("fast", "ltx"): 2, queue_of("relax", "wan_vace"): 1}, "ltx", FAST_ONLY),
        (
            {queue_of("fast", "ltx"): 2, queue_of("relax", "wan_vace"): 1},
            "wan_vace",
            {"fast": RELAX_QUEUE, "relax": RELAX_QUEUE},
        ),
    ],
)
def test_route_per_family(workers, family, expected) -> None:
    assert route(workers, family) == {t: lane(q, family) for t, q in expected.items()}


def test_targets_keep_one_job_ready_per_queue_with_workers() -> None:
    workers = {queue_of("fast", "ltx"): 2, queue_of("fast", "wan_vace"): 1}
    assert targets(workers, FairShare(extra_depth=1), "ltx") == {
        queue_of("fast", "ltx"): 3,
        queue_of("relax", "ltx"): 0,
    }
    assert targets(workers, FairShare(extra_depth=1), "wan_vace") == {
        queue_of("fast", "wan_vace"): 2,
        queue_of("relax", "wan_vace"): 0,
    }


@pytest.mark.parametrize(
    "workers, expected",
    [
        ({}, []),
        ({DEFAULT_QUEUE: 3}, []),  # an old release's worker names no family
        ({queue_of("fast", "wan_vace"): 1, queue_of("relax", "ltx"): 2}, ["ltx", "wan_vace"]),
        ({queue_of("fast", "ltx"): 0}, []),
    ],
)
def test_families_with_live_workers(workers, expected) -> None:
    assert families_of(workers) == expected


def test_lanes_and_queues_are_the_tier_at_the_family() -> None:
    assert lane("fast", "ltx") == "fast@ltx"
    assert queue_of("relax", "wan_vace") == "reelbot:queue:relax@wan_vace"
    assert split_lane("reelbot:queue:relax@wan_vace") == ("reelbot:queue:relax", "wan_vace")
    assert split_lane("fast") == ("fast", "")


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="relax_every"):
        FairShare(relax_every=0)
    with pytest.raises(ValueError, match="at least 1"):
        Caps(in_flight=0)


# --- quotas and ETA -----------------------------------------------------------------------


def test_refusals_read_as_a_member_would_want() -> None:
    busy = in_flight_refusal(2, 3)
    assert isinstance(busy, QuotaExceeded) and busy.cap == "in_flight" and busy.used == 2
    assert str(busy) == (
        "You have 2 clips waiting or rendering — wait for one to finish (your next is #3 in line)."
    )
    assert "in line" not in str(in_flight_refusal(1, None))
    now = datetime(2025, 5, 1, 20, 48, 10, tzinfo=UTC)
    assert str(per_day_refusal(50, now)) == (
        "You've made 50 clips today — the limit resets at 00:00 UTC (in 3 h 11 min)."
    )


@pytest.mark.parametrize(
    "seconds, text", [(30, "under a minute"), (45 * 60, "45 min"), (3 * 3600 + 720, "3 h 12 min")]
)
def test_duration(seconds, text) -> None:
    assert duration(seconds) == text


def test_estimate_scales_from_the_nearest_known_size() -> None:
    small = size_class(512, 320, 48, 20)
    means = {f"wan:{small}": 40.0, "tiny:3": 1.0}
    assert estimate(means, "wan", small) == 40.0
    assert estimate(means, "wan", small + 1) == 80.0  # twice the work
    assert estimate(means, "ltx", small) is None


@pytest.mark.parametrize(
    "position, workers, expected",
    [(1, 1, 10.0), (2, 1, 20.0), (2, 2, 10.0), (3, 2, 20.0), (5, 0, 50.0)],
)
def test_ready_in_counts_rounds_of_jobs_ahead(position, workers, expected) -> None:
    assert ready_in(position, 10.0, workers) == expected


WAN_SMALL = size_class(512, 320, 48, 20)


@pytest.mark.parametrize(
    "backend, klass, position, workers, expected",
    [
        ("wan", WAN_SMALL, 1, 1, 40.0),  # its own class's average
        ("wan", WAN_SMALL, 3, 2, 80.0),  # a round of two clips ahead
        ("wan", WAN_SMALL + 2, 1, 1, 160.0),  # never timed: the nearest class, scaled
        ("ltx", WAN_SMALL, 1, 1, None),  # no clip of this model timed: nothing to say
        ("wan", WAN_SMALL, 1, 0, None),  # no worker on its queue
    ],
)
def test_a_clip_is_ready_after_the_rounds_ahead_of_its_own_size(
    backend, klass, position, workers, expected
) -> None:
    means = {f"wan:{WAN_SMALL}": 40.0, "tiny:3": 1.0}
    assert clip_ready_in(means, backend, klass, position, workers) == expected


# --- properties ---------------------------------------------------------------------------

MEMBERS = [("A", "alice"), ("A", "bob"), ("A", "cid"), ("B", "dee"), ("B", "eve"), ("C", "fay")]
step = st.one_of(
    st.tuples(
        st.just("submit"),
        st.integers(0, len(MEMBERS) - 1),
        st.sampled_from(["fast", "relax"]),
        st.integers(1, 4),
    ),
    st.tuples(st.just("admit"), st.integers(0, 3), st.integers(0, 2), st.booleans()),
)


class Trace:
    """Checks P1, P2 and the relax rule admission by admission, as the module docstring says."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.queues: dict[str, dict[str, dict[str, list[str]]]] = {"fast": {}, "relax": {}}
        self.guild_seen: dict[tuple[str, str], set[str]] = {}
        self.member_seen: dict[tuple[str, str, str], set[str]] = {}
        self.fast_streak = 0
        self.submitted: list[str] = []
        self.admitted: list[str] = []

    def waiting(self, tier: str, guild: str, member: str | None = None) -> bool:
        members = self.queues[tier].get(guild, {})
        return bool(members.get(member)) if member else any(members.values())

    def submit(self, tier: str, guild: str, member: str, job: str) -> None:
        if not self.waiting(tier, guild):
            self.guild_seen[tier, guild] = set()
        if not self.waiting(tier, guild, member):
            self.member_seen[tier, guild, member] = set()
        self.queues[tier].setdefault(guild, {}).setdefault(member, []).append(job)
        self.submitted.append(job)

    def admit(self, a: Admitted, shared: bool) -> None:
        relax_waited = any(self.waiting("relax", g) for g in self.queues["relax"])
        for (tier, g), seen in self.guild_seen.items():
            if tier == a.tier and g != a.guild and self.waiting(tier, g):
                assert a.guild not in seen, f"guild {a.guild} went twice while {g} waited"
                seen.add(a.guild)
        for (tier, g, m), seen in self.member_seen.items():
            if (tier, g) == (a.tier, a.guild) and m != a.member and self.waiting(tier, g, m):
                assert a.member not in seen, f"{a.member} went twice while {m} waited"
                seen.add(a.member)
        self.guild_seen[a.tier, a.guild] = set()
        self.member_seen[a.tier, a.guild, a.member] = set()
        if shared:
            self.fast_streak = self.fast_streak + 1 if a.tier == "fast" and relax_waited else 0
            assert self.fast_streak <= self.every - 1, "relax starved"
        assert self.queues[a.tier][a.guild][a.member].pop(0) == a.job  # each member in order
        self.admitted.append(a.job)


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(step, max_size=60), every=st.integers(1, 5))
def test_no_member_waits_more_than_one_round_behind_another(steps, every) -> None:
    share = FairShare(relax_every=every)
    trace, cursor, serial = Trace(every), Cursor(), 0
    for kind, *args in steps:
        if kind == "submit":
            who_, tier, count = args
            guild, member = MEMBERS[who_]
            for _ in range(count):
                serial += 1
                trace.submit(tier, guild, member, f"j{serial}")
        else:
            fast_free, relax_free, shared = args
            routes = FAST_ONLY if shared else SPLIT
            free = {DEFAULT_QUEUE: fast_free, RELAX_QUEUE: relax_free}
            done, cursor = plan(trace.queues, cursor, free, routes, share)
            if shared:
                assert len(done) <= fast_free
            for a in done:
                trace.admit(a, shared)
    for a in fair_order(trace.queues, cursor, FAST_ONLY, share):  # drain what is left
        trace.admit(a, True)
    assert sorted(trace.admitted) == sorted(trace.submitted)  # none lost, none twice


@settings(max_examples=200, deadline=None)
@given(
    backlog=st.dictionaries(
        st.sampled_from(MEMBERS), st.integers(1, 20), min_size=1, max_size=len(MEMBERS)
    ),
    newcomer=st.sampled_from(MEMBERS),
    served=st.integers(0, 30),
)
def test_a_newcomer_is_admitted_within_one_round(backlog, newcomer, served) -> None:
    """However the backlog looks and wherever the cursor stands, a member with nothing waiting
    whose one job arrives goes before anyone has taken a second turn of their guild's, and
    within (guilds waiting) x (members waiting in its guild) admissions."""
    queues: dict[str, dict[str, dict[str, list[str]]]] = {"fast": defaultdict(dict)}
    for (guild, member), n in backlog.items():
        if (guild, member) != newcomer:
            queues["fast"][guild][member] = jobs(member, n)
    done_first, cursor = plan(queues, Cursor(), {DEFAULT_QUEUE: served}, FAST_ONLY, SHARE)
    taken = {a.job for a in done_first}
    left = {
        g: {m: [j for j in js if j not in taken] for m, js in ms.items()}
        for g, ms in queues["fast"].items()
    }
    guild, member = newcomer
    left.setdefault(guild, {})[member] = ["new"]
    order = fair_order({"fast": left}, cursor, FAST_ONLY, SHARE)
    at = [a.job for a in order].index("new")
    guilds = sum(1 for ms in left.values() if any(ms.values()))
    members = sum(1 for js in left[guild].values() if js)
    assert at < guilds * members
    assert max(Counter(a.member for a in order[:at] if a.guild == guild).values(), default=0) <= 1
