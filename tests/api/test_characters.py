"""`-ref NAME` (or the `ref` field) through POST /v1/clips: the token's member's saved characters
resolved exactly as /create resolves them, refused in the same words."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.capabilities import capabilities_for
from core.spec import RenderSpec
from gallery.characters import CharacterStore
from tests.api.conftest import GUILD, MEMBER, Api, open_api

TAKES_REFS = capabilities_for("tiny").model_copy(update={"references": 3})


def keep(api: Api, n: int, name: str, owner: str | None) -> str:
    cid = f"{n:032x}"
    picture = f"{cid[:2]}/{cid}.char.png"
    CharacterStore(api.ctx.engine).save(
        character_id=cid,
        name=name,
        picture=picture,
        owner_id=owner,
        guild_id=GUILD,
        created_by=owner or "discord:9",
    )
    return picture


@pytest.fixture
async def api_refs(redis_server, redis, tmp_path: Path) -> AsyncIterator[Api]:
    data = tmp_path / "data"
    async with open_api(
        redis_server.url, f"sqlite:///{data / 'r.db'}", data, capabilities=TAKES_REFS
    ) as opened:
        yield opened


async def test_ref_names_show_the_members_then_the_servers_characters(api_refs: Api) -> None:
    api = api_refs
    mira = keep(api, 1, "Mira", MEMBER)
    knight = keep(api, 2, "Knight", None)  # the server's
    keep(api, 3, "Bo", "discord:2002")  # someone else's: not this member's to use
    answer = await api.post_clip({"prompt": "a duel -ref mira -seed 4", "ref": "KNIGHT"})
    assert answer.status == 202, answer.body
    spec = RenderSpec.model_validate(api.ctx.store.get(answer.body["id"]).spec)
    assert spec.reference_media == (mira, knight) and spec.seed == 4
    unknown = await api.post_clip({"prompt": "a duel", "ref": "Bo"})
    assert unknown.status == 422
    assert unknown.detail.startswith("No character named 'Bo' — yours are: `Mira`, `Knight`;")


async def test_a_ref_is_refused_where_create_refuses_it(api_refs: Api, api: Api) -> None:
    keep(api_refs, 1, "Mira", MEMBER)
    bad = await api_refs.post_clip({"prompt": "a duel", "ref": "Mira, mira"})
    assert bad.status == 422 and "given twice" in bad.detail
    finished = await api_refs.post_clip({"prompt": "a fox"})
    follow = await api_refs.post_clip(
        {"from": finished.body["id"], "action": "reroll", "ref": "Mira"}
    )
    assert follow.status == 422 and follow.body["type"].endswith(":ref-alone")
    # a model without reference pictures and no worker that has them: the families named
    none = await api.post_clip({"prompt": "a duel -ref Mira"})
    assert none.status == 422 and "wan_vace" in none.detail
