"""Bursts of /create, end to end: each request gets one answer, first come first served.

A member's place under their caps is reserved in Redis, in the order their requests arrived,
before anything is said in public (`bot.intake.tickets`, `jobs/lua/submit.lua`). So a request
over a cap is refused privately with nothing left in the channel, and every public "queued"
message ends as a posted clip. The workers start only once every request is answered, so which
requests fit under the caps depends on their order alone, not on how fast clips render.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.fairshare import Caps
from core.limits import Limits
from gallery.models import GenerationStatus
from jobs.keys import sched_job_key
from tests.fakediscord import FakeDiscord, Interaction, Message, World
from tests.harness.stack import READY

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

OVER_CAP = "waiting or rendering"


def public(ix: Interaction) -> list[Message]:
    """What of an interaction's answers stays in the channel for all to see."""
    return [m for m in ix.messages if not (m.ephemeral or m.deleted)]


async def answers(interactions: list[Interaction]) -> list[Message]:
    return [await ix.wait_reply(timeout=60) for ix in interactions]


async def result_for(fake: FakeDiscord, queued: Message) -> Message:
    def replies_to_it(m: Message) -> bool:
        reference = m.message_reference or {}
        return READY in m.content and int(reference.get("message_id", 0)) == queued.id

    return await fake.wait_for_message(replies_to_it, timeout=120)


async def test_simultaneous_requests_of_one_member_are_kept_in_arrival_order(
    stack, workers
) -> None:
    """Eight at once on an idle bot: the first four (the cap) are queued and rendered, the last
    four refused privately, and nothing of theirs is ever public."""
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        sent = [
            await fake.slash_command("create", {"prompt": f"clip number {n} -len 1"})
            for n in range(8)
        ]
        replies = await answers(sent)
        kept, refused = replies[:4], replies[4:]
        assert [r.ephemeral for r in replies] == [False] * 4 + [True] * 4
        assert all("queued" in r.content for r in kept)
        for n, reply in enumerate(kept):
            assert f"clip number {n}" in reply.content
        for ix, reply in zip(sent[4:], refused, strict=True):
            assert f"You have 4 clips {OVER_CAP}" in reply.content
            assert public(ix) == []  # no "queued", no "thinking…" left behind
        assert len(stack.store.page_by_id()) == 4  # nothing of the refused was ever recorded
        workers.start()
        for queued in kept:
            await result_for(fake, queued)


async def test_every_public_queued_message_of_a_crowd_ends_as_a_clip(stack, workers) -> None:
    """20 members, 10 bursts of one /create each: of each member's ten, their first (the cap)
    is queued and posted; the other nine are refused privately, with nothing in public."""
    world = World.default()
    members = [world.add_user(f"member{n:02d}").name for n in range(20)]
    bot = await stack.new_bot(limits=Limits(base=Caps(in_flight=1, per_day=50)))
    async with FakeDiscord(world) as fake, fake.running(bot):
        sent: dict[str, list[Interaction]] = {m: [] for m in members}
        for burst in range(10):
            for member in members:
                prompt = f"{member} burst {burst} -len 1"
                sent[member].append(
                    await fake.slash_command("create", {"prompt": prompt}, user=member)
                )
        queued: list[Message] = []
        for member, interactions in sent.items():
            replies = await answers(interactions)
            assert [r.ephemeral for r in replies] == [False] + [True] * 9, member
            queued.append(replies[0])
            for ix, reply in zip(interactions[1:], replies[1:], strict=True):
                assert f"You have 1 clip {OVER_CAP}" in reply.content
                assert public(ix) == []
        assert len(stack.store.page_by_id()) == 20
        workers.start()
        for message in queued:
            await result_for(fake, message)
        shown = [m for m in fake.visible_messages() if not m.ephemeral]
        assert all(READY in m.content or m in queued for m in shown)
        assert not [m for m in shown if "not queued" in m.content]


async def test_a_refusal_after_the_public_answer_takes_that_answer_back(
    stack, redis, monkeypatch: Any
) -> None:
    """Unavoidable only if a reserved place lapsed (a bot stalled 15 minutes) and a later
    request took it: then the queued message says the clip was not queued, and why."""
    bot = await stack.new_bot(limits=Limits(base=Caps(in_flight=1, per_day=50)))
    enqueue = bot.admission.enqueue

    async def after_a_lapse(job: Any, **options: Any) -> None:
        await redis.delete(sched_job_key(job.generation_id))  # its place lapsed...
        other = job.model_copy(update={"generation_id": "f" * 32})
        await bot.admission.reserve(other.generation_id, other.spec, Caps(in_flight=1))  # ...taken
        await enqueue(job, **options)

    monkeypatch.setattr(bot.admission, "enqueue", after_a_lapse)
    async with FakeDiscord() as fake, fake.running(bot):
        ix = await fake.slash_command("create", {"prompt": "a lighthouse at dusk"})
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "queued" in queued.content
        taken_back = await ix.wait_reply(lambda m: "not queued after all" in m.content)
        assert taken_back.id == queued.id
        assert "You have 1 clip waiting or rendering" in taken_back.content
        assert "a lighthouse at dusk" in taken_back.content
        private = await ix.wait_reply(lambda m: m.ephemeral)
        assert "You have 1 clip" in private.content
        [row] = stack.store.page_by_id()
        assert row.status == GenerationStatus.FAILED and row.error == "could not be queued"
        assert await bot.admission.position(row.id) is None  # nothing of it waits in line
