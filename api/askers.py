"""Who asks through the API and what a request settles before it is let in, shared by the ways
of asking (`api.asking`: create, follow-ups and stories; `api.editing`; `api.speaking`).

A `Draft` is the spec screened and reserved for; its `finish` is what runs only once the member
is let in (an upload checked and stored under the new id), as Discord fetches a file only then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from api.clipstate import is_visible_to_all
from api.schemas import SETTING_FIELDS, ClipRequest
from core.spec import RenderSpec
from gallery.apitables import ApiToken
from gallery.models import Generation

NOT_FOUND = "There is no clip here. It may be hidden, deleted, or never existed."

# The new id -> the spec with its files stored under it, and notes for people.
Finish = Callable[[str], Awaitable[tuple[RenderSpec, list[str]]]]


@dataclass(frozen=True)
class ApiAsker:
    """An API token's member as intake sees them: no channel, no upload cap, and no name (the
    gallery keeps the one Discord last gave them)."""

    owner_id: str
    guild_id: int | None
    display_name: str = ""
    channel_id: int | None = None
    upload_limit: int | None = None
    role_ids: tuple[int, ...] = ()  # roles are Discord's; the API asks under the base caps

    @classmethod
    def of(cls, token: ApiToken) -> ApiAsker:
        return cls(owner_id=token.member_id, guild_id=token.guild_id)


@dataclass(frozen=True)
class Draft:
    """The spec as far as the request settles it before any upload is checked (screened and
    reserved for); `finish` checks and stores the upload(s) once the member is let in."""

    spec: RenderSpec
    notes: tuple[str, ...] = ()
    finish: Finish | None = None


def visible_to(row: Generation, token: ApiToken) -> bool:
    """A hidden, deleted or moderated clip is its owner's tokens' alone."""
    return row.owner_id == token.member_id or is_visible_to_all(row)


def settings_given(req: ClipRequest) -> dict[str, object]:
    """The settings fields as sent (None: not given)."""
    return {name: getattr(req, name) for name in SETTING_FIELDS}
