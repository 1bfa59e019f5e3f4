"""Saved characters: a member's (or a server's) picture under a short name, for `-ref NAME`.

A member's own characters are theirs in one guild; a moderator's server-wide ones (no owner)
are everyone's there. Looking a name up takes the member's own first, so saving "Mira" of
your own shadows the server's. Names compare without case (`core.characters.name_key`) and
follow `core.characters.name_problem`; a member keeps at most MAX_CHARACTERS.

The store keeps rows only: the picture itself is in the media store under the character's id
(kind `char.png`), written by the caller before `save` and removed by it after a replace or
a delete (the paths are returned for that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from core.characters import MAX_CHARACTERS, name_key, name_problem
from core.errors import UserFacingError
from gallery.chartables import Character
from gallery.db import write_lock

__all__ = ["Character", "CharacterLimit", "CharacterStore", "Replaced"]


class CharacterLimit(UserFacingError):
    """A member who already keeps MAX_CHARACTERS, saving one more under a new name."""


@dataclass(frozen=True, slots=True)
class Replaced:
    """What `save` did: the new row, and the picture of the one it replaced (to remove)."""

    character: Character
    old_picture: str | None


def scope_of(owner_id: str | None, guild_id: int | None, name: str) -> str:
    """The unique key of a name for an owner (or the server) in a guild."""
    return f"{guild_id if guild_id is not None else ''}/{owner_id or '*'}/{name_key(name)}"


def _in_guild(guild_id: int | None) -> sa.ColumnElement[bool]:
    column = col(Character.guild_id)
    return column.is_(None) if guild_id is None else column == guild_id


class CharacterStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def save(
        self,
        *,
        character_id: str,
        name: str,
        picture: str,
        owner_id: str | None,
        guild_id: int | None,
        created_by: str,
    ) -> Replaced:
        """Keep `picture` as `name` for `owner_id` (None: the whole server), replacing a
        same-named one of theirs; CharacterLimit past MAX_CHARACTERS, ValueError for a name
        `core.characters.name_problem` refuses."""
        if (problem := name_problem(name)) is not None:
            raise ValueError(problem)
        scope = scope_of(owner_id, guild_id, name)
        row = Character(
            id=character_id,
            owner_id=owner_id,
            guild_id=guild_id,
            name=name,
            scope=scope,
            picture=picture,
            created_by=created_by,
        )
        with write_lock(self.engine), self._session() as session:
            old = session.exec(select(Character).where(col(Character.scope) == scope)).first()
            old_picture = old.picture if old is not None else None
            if old is not None:
                session.delete(old)
                session.flush()
            elif owner_id is not None:
                kept = session.exec(
                    select(sa.func.count())
                    .select_from(Character)
                    .where(col(Character.owner_id) == owner_id, _in_guild(guild_id))
                ).one()
                if kept >= MAX_CHARACTERS:
                    raise CharacterLimit(
                        f"You keep {kept} characters here, the most there can be. Delete one "
                        "with `/character delete` first, or save over one of yours by its name."
                    )
            session.add(row)
            session.commit()
        return Replaced(row, old_picture)

    def list_for(self, member_id: str, guild_id: int | None) -> list[Character]:
        """The member's own characters, then the server-wide ones, each by name."""
        statement = select(Character).where(
            _in_guild(guild_id),
            or_(col(Character.owner_id) == member_id, col(Character.owner_id).is_(None)),
        )
        with self._session() as session:
            rows = list(session.exec(statement))
        return sorted(rows, key=lambda c: (c.owner_id is None, name_key(c.name)))

    def get(self, member_id: str, guild_id: int | None, name: str) -> Character | None:
        """The member's own character of that name, else the server-wide one, else None."""
        scopes = [scope_of(member_id, guild_id, name), scope_of(None, guild_id, name)]
        with self._session() as session:
            rows = {
                r.scope: r
                for r in session.exec(select(Character).where(col(Character.scope).in_(scopes)))
            }
        return next((rows[s] for s in scopes if s in rows), None)

    def get_many(
        self, member_id: str, guild_id: int | None, names: Sequence[str]
    ) -> list[Character | None]:
        """`get` for each name, in order (None where there is none)."""
        return [self.get(member_id, guild_id, name) for name in names]

    def delete(
        self, member_id: str, guild_id: int | None, name: str, *, moderator: bool
    ) -> Character | None:
        """Delete the member's own character of that name, or (for a moderator) the
        server-wide one; the row deleted, or None when there was none they may delete.
        PermissionError: a server-wide one asked for by someone who is not a moderator."""
        with write_lock(self.engine), self._session() as session:
            own = session.exec(
                select(Character).where(col(Character.scope) == scope_of(member_id, guild_id, name))
            ).first()
            if own is None:
                own = session.exec(
                    select(Character).where(col(Character.scope) == scope_of(None, guild_id, name))
                ).first()
                if own is not None and not moderator:
                    raise PermissionError(own.name)
            if own is not None:
                session.delete(own)
                session.commit()
            return own

    def server_wide_named(self, name: str) -> list[Character]:
        """Every guild's server-wide character of that name (the operator's terminal, which
        belongs to no guild, may use any of them)."""
        statement = select(Character).where(col(Character.owner_id).is_(None))
        with self._session() as session:
            rows = list(session.exec(statement))
        return [c for c in rows if name_key(c.name) == name_key(name)]

    def for_member_page(self, member_id: str) -> list[Character]:
        """A member's own characters in every guild, by name (the gallery's member page)."""
        statement = select(Character).where(col(Character.owner_id) == member_id)
        with self._session() as session:
            rows = list(session.exec(statement))
        return sorted(rows, key=lambda c: name_key(c.name))
