"""Edits on a mixed fleet end to end: fake Discord ↔ unmodified discord.py bot (its own family
tiny, the default test stack) ↔ real Redis ↔ two real `python -m worker` processes at once, one
tiny and one Wan VACE editor (`builtin:tiny`, tiny random weights built in code) ↔ one SQLite
gallery. A /create renders on the tiny worker; its result offers ✏️ Modify and ↔ Expand because
the fleet edits, and every edit (Modify with and without *where*, Expand to 9:16, /add, /swap)
renders on the editor and is posted as a child of the clip. A /swap naming something the tiny
region finder does not see is answered "I couldn't find …" in the failure post: the worker has
no setting for the finder's threshold, so this is the words path; the tiny finder's weights are
drawn from a fixed seed and the clip's frames from -seed 3, so "the red car" scores below SAM 3's
detection threshold in every frame on every run (no edit of the whole frame instead).
Then `-ref`: a character saved with /character save renders on the editor (the bot's tiny takes
no reference pictures), its picture passed as WanVACEPipeline's reference_images; deleted while
a second such clip waits (the editor paused with SIGSTOP, so it can't have started), that clip
fails, saying why.

The bot sizes an edit for the family the fleet names (`intake.fleet.FleetChoice.family_for` →
`core.capabilities.capabilities_for("wan_vace")`): at its real 480p and 50 steps the tiny VACE
takes minutes on two cores, so the bot's process reads wan_vace's capabilities small (128x64, 2
steps, as test_discord_edit_worker.py's VACE_SMALL); the workers are processes of their own and
check every spec against the real families'. (A test backend by module path can't do it: a
spec's `backend` is a family name, never a dotted path, so such a backend must reuse a built-in
family's name, and the bot then sizes with that family's real capabilities.)
A mode no worker offers (only tiny ever beat) is refused up front in
test_discord_edits.py::test_each_bad_edit_is_a_private_answer_and_queues_nothing[no editor].
"""

from __future__ import annotations

import io
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli.local_redis import LocalRedis
from core.capabilities import FAMILIES as FAMILIES_BUILTIN
from gallery.community import CommunityStore
from jobs.fleet import read_fleet
from tests.api.conftest import open_api
from tests.fakediscord import FakeDiscord, Message
from tests.fakediscord.records import walk_components
from tests.harness.members import child_clip, create, labels, results_of, user_id
from tests.harness.stack import PUBLIC_URL, Stack, clip_id
from tests.harness.video import decoded
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcesses, reelbot_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

VACE = "wan_vace"
FAMILIES = ("tiny", VACE)
# How the bot (in this process) sizes edits for the fleet's wan_vace: small, in two steps, as
# test_discord_edit_worker.py's VACE_SMALL; the workers, processes of their own, keep the real
# family's capabilities and check every spec against them.
VACE_SMALL = FAMILIES_BUILTIN["wan_vace"].model_copy(
    update={"native_pixels": 128 * 64, "default_steps": 2}
)


@pytest.fixture
async def stack(
    redis_server: LocalRedis, redis: object, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    monkeypatch.setitem(FAMILIES_BUILTIN, VACE, VACE_SMALL)  # capabilities_for reads it
    s = Stack(redis_server.url, data_dir)  # the bot's own family: tiny
    yield s
    await s.close()


@pytest.fixture
def fleet(
    redis_server: LocalRedis, redis: object, data_dir: Path
) -> Iterator[dict[str, WorkerProcesses]]:
    """One worker of each family on the stack's Redis and data folder."""
    started = {}
    try:
        for family in FAMILIES:
            model = {} if family == "tiny" else {"REELBOT_MODEL": "builtin:tiny"}
            env = reelbot_env(redis_server.url, data_dir, REELBOT_BACKEND=family, **model)
            started[family] = WorkerProcesses(env, data_dir.parent / f"logs-{family}")
            started[family].start()
        yield started
    finally:
        for workers in started.values():
            workers.stop_all()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 96), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def frames_of(message: Message) -> np.ndarray:
    [data] = message.files.values()
    return decoded(data)[0]


def custom_ids(message: Message) -> list[str]:
    return [str(c.get("custom_id")) for c in walk_components(message.components)]


def rendered_by(row: object, workers: WorkerProcesses) -> bool:
    """Whether a worker of `workers` made the clip (a worker's id is host-pid-suffix)."""
    (proc,) = workers.processes
    return str(row.worker).split("-")[-2] == str(proc.pid)  # type: ignore[attr-defined]


async def test_a_tiny_clip_is_edited_by_the_fleets_vace_worker(
    stack: Stack, fleet: dict[str, WorkerProcesses], redis, data_dir: Path
) -> None:
    await eventually(lambda: read_fleet(redis), lambda f: set(f.live) == set(FAMILIES))
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        # 1. /create renders on the tiny worker, and its result offers the fleet's edits
        first = await create(fake, "a red car on a coast road -len 1 -seed 3")
        parent_id = clip_id(first)
        parent_row = stack.store.get(parent_id)
        assert parent_row.backend == "tiny" and rendered_by(parent_row, fleet["tiny"])
        assert "Modify" in labels(first)
        assert f"reelbot:expand:{parent_id}" in custom_ids(first)  # the ↔ Expand select
        parent = frames_of(first)

        async def edited(edits: int, kind: str, user: str) -> np.ndarray:
            row, result = await child_clip(stack, fake, parent_id, count=edits)
            logs = fleet[VACE].logs()[-3000:]
            assert row.status == "done", f"{row.error}\n{logs}"
            assert (row.parent_id, row.owner_id) == (parent_id, user_id(fake, user))
            assert row.spec["edit"]["kind"] == kind and row.backend == VACE
            assert rendered_by(row, fleet[VACE])
            frames = frames_of(result)
            assert frames.shape[1:3] == (row.height, row.width)
            return frames

        # ✏️ Modify without *where*: the whole clip, by the instruction
        ix = await fake.click_button(first, label="Modify", user="bob")
        modal = await ix.wait_modal()
        sent = await fake.submit_modal(modal["custom_id"], {"what": "make it snow"}, user="bob")
        assert not (await sent.wait_reply()).ephemeral
        whole = await edited(1, "modify", "bob")
        assert whole.shape[1] < whole.shape[2]  # the parent's landscape shape

        # 2. ✏️ Modify with where `left`
        ix = await fake.click_button(first, label="Modify", user="bob")
        modal = await ix.wait_modal()
        sent = await fake.submit_modal(
            modal["custom_id"], {"what": "make it snow", "where": "left"}, user="bob"
        )
        assert not (await sent.wait_reply()).ephemeral
        assert (await edited(2, "modify", "bob")).shape == whole.shape

        # 3. ↔ Expand to 9:16: the posted clip is taller than wide
        ix = await fake.select(first, f"reelbot:expand:{parent_id}", ["9:16"], user="alice")
        assert not (await ix.wait_reply()).ephemeral
        taller = await edited(3, "expand", "alice")
        assert taller.shape[1] > taller.shape[2] and len(taller) == len(whole)

        # 4. /add a picture by the clip's gallery link; /swap a box for words
        picture = fake.upload("hat.png", png(), width=96, height=96)
        options = {"clip": f"{PUBLIC_URL}/clips/{parent_id}", "image": picture}
        ix = await fake.slash_command("add", options, user="bob")
        assert not (await ix.wait_reply()).ephemeral
        assert (await edited(4, "add", "bob")).shape == whole.shape

        swap = {"clip": parent_id, "what": "right", "with": "a vintage bicycle"}
        ix = await fake.slash_command("swap", swap, user="bob")
        assert not (await ix.wait_reply()).ephemeral
        assert (await edited(5, "swap", "bob")).shape == whole.shape
        assert len(whole) == len(parent)  # the parent's length, in the editor's size

        # a /swap naming something the tiny region finder doesn't see: the failure post says so
        swap = {"clip": parent_id, "what": "the red car", "with": "a vintage bicycle"}
        ix = await fake.slash_command("swap", swap, user="bob")
        assert not (await ix.wait_reply()).ephemeral
        failed = await fake.wait_for_message(
            lambda m: "sorry, this clip failed" in m.content, timeout=60
        )
        assert 'I couldn\'t find "the red car" in this clip' in failed.content, failed.content
        assert f"<@{fake.users['bob'].id}>" in failed.content and not failed.files
        children = CommunityStore(stack.engine).children(parent_id)
        assert len(children) == 6 and results_of(fake, children[-1].id) == []
        assert stack.store.get(children[-1].id).status == "failed"  # not an edit of everything

        # 5. -ref: a saved character; the bot's own tiny takes no reference pictures, so the
        # fleet's wan_vace renders it, with the picture as WanVACEPipeline's reference_images
        await refs_render_on_the_fleets_vace(stack, fake, fleet[VACE])

        # 6. the REST API asks an edit of the same clip: the fleet's wan_vace renders it too
        await api_edit_renders(stack, data_dir, fake, fleet[VACE], parent_id)


async def api_edit_renders(
    stack: Stack, data_dir: Path, fake: FakeDiscord, vace: WorkerProcesses, parent_id: str
) -> None:
    """POST /v1/clips `{"from", "action": "modify", "where"}` with alice's token: her child
    clip, rendered by the VACE worker, succeeded in the API's own answer."""
    async with open_api(stack.redis_url, f"sqlite:///{data_dir / 'reelbot.db'}", data_dir) as api:
        alice = user_id(fake, "alice")
        api.token = api.issue(alice, guild_id=fake.world.guild.id)
        asked = {"from": parent_id, "action": "modify", "prompt": "make it snow", "where": "top"}
        answer = await api.post_clip(asked)
        assert answer.status == 202, answer.body
        gid = answer.body["id"]

        async def clip() -> dict:
            return (await api.call("GET", f"/v1/clips/{gid}")).body

        done = await eventually(clip, lambda c: c["status"] in ("succeeded", "failed"), timeout=90)
        assert done["status"] == "succeeded", f"{done['error']}\n{vace.logs()[-3000:]}"
        assert done["spec"]["mode"] == "edit" and done["spec"]["backend"] == VACE
        assert done["lineage"]["parent_id"] == parent_id and done["owner_id"] == alice
        row = stack.store.get(gid)
        assert rendered_by(row, vace) and row.spec["edit"]["box"]["h"] == 50  # `top`: the top half


async def refs_render_on_the_fleets_vace(
    stack: Stack, fake: FakeDiscord, vace: WorkerProcesses
) -> None:
    """/character save, then `-ref` of an unknown name (refused, naming the member's), then
    `/create … -ref Mira`: rendered by the VACE worker from the stored picture, posted once."""
    picture = fake.upload("mira.png", png(), width=96, height=96)
    ix = await fake.slash_command(
        "character save", {"name": "Mira", "image": picture}, user="alice"
    )
    assert "Saved **Mira** as yours" in (await ix.wait_reply()).content
    [kept] = stack.media.root.rglob("*.char.png")
    stored = kept.relative_to(stack.media.root).as_posix()

    ix = await fake.slash_command("create", {"prompt": "a knight -ref Tom"}, user="alice")
    refused = await ix.wait_reply()
    assert refused.ephemeral
    assert "No character named 'Tom' — yours are: `Mira`" in refused.content
    assert "/character save" in refused.content

    result = await create(fake, "a knight in the rain -len 1 -seed 4 -ref Mira", user="alice")
    gid = clip_id(result)
    row = stack.store.get(gid)
    assert row.status == "done", f"{row.error}\n{vace.logs()[-3000:]}"
    assert row.spec["reference_media"] == [stored] and row.backend == VACE
    assert rendered_by(row, vace) and row.owner_id == user_id(fake, "alice")
    # the worker's conditioning path: the saved 96x96 picture, whole, as reference_images
    said = [line for line in vace.logs().splitlines() if "-ref:" in line]
    assert any("1 reference_images (96x96)" in line and gid in line for line in said), said
    frames = frames_of(result)
    assert frames.shape[1:3] == (row.height, row.width)
    await eventually(lambda: stack.store.get(gid), lambda r: r.discord_message_id)
    assert len(results_of(fake, gid)) == 1  # posted once

    # Mira deleted while a clip that shows her waits (the editor paused, so it can't have
    # started): the clip fails, saying why, and is not rendered without her
    (proc,) = vace.processes
    proc.send_signal(signal.SIGSTOP)
    try:
        ix = await fake.slash_command("create", {"prompt": "a knight at dawn -len 1 -ref Mira"})
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "queued" in queued.content
        ix = await fake.slash_command("character delete", {"name": "Mira"})
        said = (await ix.wait_reply()).content
        assert "Deleted **Mira**" in said and "waiting to render with it will fail" in said
        assert not kept.exists()
    finally:
        proc.send_signal(signal.SIGCONT)
    failed = await fake.wait_for_message(lambda m: "a character it shows" in m.content, timeout=60)
    assert "sorry, this clip failed" in failed.content and not failed.files
    assert "was deleted or saved over" in failed.content and "/character save" in failed.content
    with stack.engine.connect() as conn:
        [(waiting, status)] = conn.exec_driver_sql(
            "SELECT id, status FROM generation WHERE prompt LIKE '%at dawn%'"
        ).all()
    assert status == "failed" and results_of(fake, waiting) == []
