"""The saved characters' table (migration 0009): a member's (or a server's) picture kept under a
short name, for `-ref NAME` (`gallery.characters` reads and writes it).

Beside `gallery.models` rather than in it: characters point at no generation and no generation
points at them. Member ids are kept as written ("discord:123"), without foreign keys, as the
moderation audit log does. `scope` is one non-null column for "this name, for this owner (or the
server) in this guild": NULLs never collide in a unique index, so owner and guild can't be it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from gallery.models import UTCDateTime, utcnow


class Character(SQLModel, table=True):
    """One saved character: its name, whose it is, and its picture in the media store
    (`<id>.char.png`, never public)."""

    __tablename__ = "character"
    __table_args__ = (sa.Index("ix_character_guild_owner", "guild_id", "owner_id"),)

    id: str = Field(primary_key=True, max_length=32)  # a generation-style id: the picture's key
    owner_id: str | None = Field(default=None, max_length=64)  # None: server-wide
    guild_id: int | None = Field(default=None, sa_type=sa.BigInteger)  # None: DMs, the terminal
    name: str = Field(max_length=32)
    scope: str = Field(max_length=200, unique=True)  # guild / owner or * / the name casefolded
    picture: str = Field(max_length=200)  # the media store's relative path
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
