"""`reelbot create "… -ref Mira"` from a terminal: names looked up as Discord's /create looks
them up (the terminal's own, then a server's), refused the same way where the model takes no
reference pictures or the name is unknown, before anything connects."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.characters import parse_with_references
from core.capabilities import capabilities_for
from core.errors import UserFacingError
from gallery.characters import CharacterStore
from gallery.db import make_engine, migrate
from tests.e2e.test_cli_loop import OFFLINE
from tests.harness.cli import reelbot

TAKES_REFS = capabilities_for("tiny").model_copy(update={"references": 3})


def keep(store: CharacterStore, n: int, name: str, owner: str | None, guild: int | None) -> str:
    cid = f"{n:032x}"
    picture = f"{cid[:2]}/{cid}.char.png"
    store.save(
        character_id=cid,
        name=name,
        picture=picture,
        owner_id=owner,
        guild_id=guild,
        created_by=owner or "discord:9",
    )
    return picture


def test_the_terminal_uses_its_own_then_a_servers_characters(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reelbot.db'}"
    engine = make_engine(url)
    migrate(engine)
    store = CharacterStore(engine)
    mine = keep(store, 1, "Mira", "cli:local", None)
    knight = keep(store, 2, "Knight", None, 111)
    keep(store, 3, "Twin", None, 111)
    keep(store, 4, "twin", None, 222)
    engine.dispose()

    spec = parse_with_references("a duel -ref mira, KNIGHT -seed 1", TAKES_REFS, {}, url)
    assert spec.reference_media == (mine, knight) and spec.seed == 1
    with pytest.raises(UserFacingError, match="guilds 111, 222"):
        parse_with_references("a duel -ref Twin", TAKES_REFS, {}, url)
    with pytest.raises(UserFacingError, match="No character named 'Tom'"):
        parse_with_references("a duel -ref Tom", TAKES_REFS, {}, url)
    assert parse_with_references("a duel", TAKES_REFS, {}, url).reference_media == ()


def test_reelbot_create_refuses_ref_on_a_model_without_references(tmp_path: Path) -> None:
    env = {"REELBOT_DATA_DIR": str(tmp_path), "REELBOT_BACKEND": "tiny", **OFFLINE}
    result = reelbot("create", "a knight -ref Mira", env=env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "needs a model that takes reference pictures" in result.stderr
    assert "this server's model (tiny) doesn't" in result.stderr
