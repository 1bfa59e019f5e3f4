"""Style previews: the clips `reelbot styles preview` queues, one a style and family, found again
for `/styles` and `reelbot styles` to link.

A preview is an ordinary clip (the normal job path: admission, the worker, the output scan,
provenance) owned by PREVIEW_OWNER, so no member's page or caps count it, and public in the
gallery like any clip. Which style it previews is the style in its own spec, so nothing else
needs storing; the newest finished public one of a style on a family is that style's preview.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from gallery.models import Generation
from gallery.store import public

PREVIEW_OWNER = "reelbot:style-preview"
PREVIEW_NAME = "Style previews"
MAX_SCANNED = 500  # previews read per question: a few per style, far more than any file names


def style_of(spec: dict[str, Any] | None) -> str:
    """The `-style` name in a stored spec, or "" without one."""
    style = (spec or {}).get("style")
    return str(style.get("name", "")) if isinstance(style, dict) else ""


def latest_previews(engine: Engine, family: str) -> dict[str, str]:
    """Each style's newest public, finished preview clip on `family`: style name → clip id."""
    statement = (
        select(Generation)
        .where(col(Generation.owner_id) == PREVIEW_OWNER, col(Generation.backend) == family)
        .where(public())
        .order_by(col(Generation.created_at).desc(), col(Generation.id).desc())
        .limit(MAX_SCANNED)
    )
    found: dict[str, str] = {}
    with Session(engine) as session:
        for row in session.exec(statement):
            name = style_of(row.spec)
            if name:
                found.setdefault(name, row.id)
    return found
