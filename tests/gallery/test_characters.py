"""Saved characters' store on both databases: save, replace, list, get and delete, the per-member
cap, a member's own before the server's, names without case; and migration 0009 on a database
made by an earlier version."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from core.characters import MAX_CHARACTERS
from gallery.characters import CharacterLimit, CharacterStore
from gallery.db import alembic_config, make_engine, migrate

GUILD, OTHER_GUILD = 111, 222
ALICE, BOB = "discord:1", "discord:2"


def cid(n: int) -> str:
    return f"{n:032x}"


def save(chars: CharacterStore, n: int, name: str, owner: str | None, guild: int | None = GUILD):
    return chars.save(
        character_id=cid(n),
        name=name,
        picture=f"{cid(n)[:2]}/{cid(n)}.char.png",
        owner_id=owner,
        guild_id=guild,
        created_by=owner or "discord:9",
    )


@pytest.fixture
def chars(engine: Engine) -> CharacterStore:
    return CharacterStore(engine)


def test_save_get_list_and_replace_without_case(chars: CharacterStore) -> None:
    save(chars, 1, "Mira", ALICE)
    save(chars, 2, "Old Tom", ALICE)
    found = chars.get(ALICE, GUILD, "MIRA")
    assert found is not None and (found.id, found.name) == (cid(1), "Mira")
    assert chars.get(BOB, GUILD, "Mira") is None  # a member's own are theirs
    assert chars.get(ALICE, OTHER_GUILD, "Mira") is None  # in that guild only

    replaced = save(chars, 3, "mira", ALICE)
    assert replaced.old_picture == f"{cid(1)[:2]}/{cid(1)}.char.png"
    assert [c.name for c in chars.list_for(ALICE, GUILD)] == ["mira", "Old Tom"]
    again = chars.get(ALICE, GUILD, "Mira")
    assert again is not None and again.id == cid(3)


def test_a_members_own_come_before_the_servers(chars: CharacterStore) -> None:
    save(chars, 1, "Mira", None)  # server-wide, a moderator's
    save(chars, 2, "Knight", None)
    save(chars, 3, "mira", BOB)
    assert chars.get(ALICE, GUILD, "mira").id == cid(1)  # type: ignore[union-attr]
    assert chars.get(BOB, GUILD, "MIRA").id == cid(3)  # type: ignore[union-attr]
    listed = chars.list_for(BOB, GUILD)
    assert [(c.name, c.owner_id) for c in listed] == [
        ("mira", BOB),
        ("Knight", None),
        ("Mira", None),
    ]
    assert [c.name for c in chars.get_many(ALICE, GUILD, ["knight", "Nobody"]) if c] == ["Knight"]


def test_delete_own_and_server_wide_only_as_moderator(chars: CharacterStore) -> None:
    save(chars, 1, "Mira", ALICE)
    save(chars, 2, "Knight", None)
    assert chars.delete(BOB, GUILD, "mira", moderator=False) is None
    gone = chars.delete(ALICE, GUILD, "MIRA", moderator=False)
    assert gone is not None and gone.id == cid(1)
    assert chars.get(ALICE, GUILD, "Mira") is None
    with pytest.raises(PermissionError):
        chars.delete(ALICE, GUILD, "knight", moderator=False)
    assert chars.get(ALICE, GUILD, "Knight") is not None
    assert chars.delete(BOB, GUILD, "Knight", moderator=True) is not None
    assert chars.list_for(ALICE, GUILD) == []


def test_a_member_keeps_at_most_the_cap_but_may_replace(chars: CharacterStore) -> None:
    for n in range(MAX_CHARACTERS):
        save(chars, n, f"c{n}", ALICE)
    with pytest.raises(CharacterLimit, match="/character delete"):
        save(chars, 100, "one more", ALICE)
    save(chars, 101, "C0", ALICE)  # saving over one of theirs is no new one
    save(chars, 102, "one more", BOB)  # others are not counted against her
    save(chars, 103, "one more", ALICE, guild=OTHER_GUILD)  # nor another guild's
    save(chars, 104, "server one", None)
    assert len(chars.list_for(ALICE, GUILD)) == MAX_CHARACTERS + 1


def test_dm_and_terminal_characters_have_no_guild(chars: CharacterStore) -> None:
    save(chars, 1, "Mira", "cli:local", guild=None)
    assert chars.get("cli:local", None, "mira") is not None
    assert chars.get("cli:local", GUILD, "mira") is None
    assert [c.name for c in chars.for_member_page("cli:local")] == ["Mira"]


def test_a_bad_name_is_never_stored(chars: CharacterStore) -> None:
    with pytest.raises(ValueError, match="isn't a name"):
        save(chars, 1, "<@123>", ALICE)


def test_0009_upgrades_an_existing_database(database_url: str) -> None:
    """A gallery made before characters keeps its clips and gains the table; a downgrade
    takes only the table out."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0008")
            conn.exec_driver_sql(
                "INSERT INTO member (id, display_name, created_at, default_flags)"
                " VALUES ('cli:old', 'Old', '2030-01-01 00:00:00', '')"
            )
        assert "character" not in sa.inspect(engine).get_table_names()
        migrate(engine)
        save(CharacterStore(engine), 1, "Mira", "cli:old")
        assert CharacterStore(engine).get("cli:old", GUILD, "mira") is not None
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT id FROM member").scalars().all() == ["cli:old"]
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0008")
        assert "character" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
