"""`-ref NAME` from the terminal (`reelbot create "a knight -ref Mira"`): the names looked up as
Discord's /create looks them up, for the terminal's own member (`cli:local`, in no guild).

The operator's terminal belongs to no guild, so after its own characters it may use a
server-wide one of any guild; a name several guilds keep is refused, naming them, rather than
picked at random. The loaded model must take reference pictures (the terminal asks no fleet).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Engine

from core.characters import references_refused
from core.errors import UserFacingError
from core.flags import parse_request
from core.rendercaps import Capabilities
from core.spec import RenderSpec, StylePreset
from gallery.characters import CharacterStore
from intake.followups import read_text

TERMINAL = "cli:local"


def look_up(store: CharacterStore, owner_id: str, name: str) -> str:
    """The stored picture of `name` for the terminal; UserFacingError naming what there is."""
    own = store.get(owner_id, None, name)
    if own is not None:
        return own.picture
    found = store.server_wide_named(name)
    if len(found) == 1:
        return found[0].picture
    if found:
        guilds = ", ".join(str(c.guild_id) for c in found)
        raise UserFacingError(
            f"Several servers keep a character named '{name}' (guilds {guilds}); rename all "
            "but one with /character save, or use it from Discord."
        )
    raise UserFacingError(
        f"No character named '{name}' — save one with /character save (server_wide:true) "
        "in Discord first."
    )


def parse_with_references(
    text: str,
    capabilities: Capabilities,
    styles: Mapping[str, StylePreset],
    database: str | Engine,
    **more: Any,
) -> RenderSpec:
    """`core.flags.parse_request` with the text's `-ref` names looked up in `database` (a URL
    or an engine; opened only when the text names characters)."""
    names = read_text(text, capabilities, styles).references
    pictures: tuple[str, ...] = ()
    if names:
        references_refused(capabilities, len(names), f"-ref {', '.join(names)}")
        owner = str(more.get("owner_id") or TERMINAL)
        pictures = _pictures(database, owner, names)
    return parse_request(
        text, capabilities=capabilities, styles=styles, references=pictures, **more
    )


def _pictures(database: str | Engine, owner: str, names: tuple[str, ...]) -> tuple[str, ...]:
    from gallery.db import make_engine, migrate

    engine = make_engine(database) if isinstance(database, str) else database
    try:
        if isinstance(database, str):
            migrate(engine)
        store = CharacterStore(engine)
        return tuple(look_up(store, owner, name) for name in names)
    finally:
        if isinstance(database, str):
            engine.dispose()
