"""Where clip files live: a local folder, addressed only by generation id.

Paths are derived from the 32-hex generation id and a kind from a fixed list, never from
anything a person typed, so no request can name a file outside the media root. Files are
sharded by the id's first two characters to keep directories small.

Kinds: `mp4` the clip, `jpg`/`webp` previews, `png` a member's input image for image-to-video
(always re-encoded by the bot before it gets here, never the bytes the member sent).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

GENERATION_ID = re.compile(r"^[0-9a-f]{32}$")
KINDS = frozenset({"mp4", "small.mp4", "jpg", "webp", "png"})


def check_generation_id(generation_id: str) -> str:
    """Return the id if it is exactly 32 lowercase hex characters, else raise ValueError."""
    if not isinstance(generation_id, str) or not GENERATION_ID.fullmatch(generation_id):
        raise ValueError(f"generation id {generation_id!r} is not 32 lowercase hex characters")
    return generation_id


class LocalMediaStore:
    """Clip files under one root folder; the gallery rows store paths relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def relative_path(self, generation_id: str, kind: str = "mp4") -> str:
        """The POSIX path relative to the root, e.g. `ab/abcdef….mp4` (what rows store)."""
        check_generation_id(generation_id)
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r} is not one of {sorted(KINDS)}")
        return f"{generation_id[:2]}/{generation_id}.{kind}"

    def path_for(self, generation_id: str, kind: str = "mp4") -> Path:
        """The absolute path to write a generation's file to; its folder is created."""
        path = self.root / self.relative_path(generation_id, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def resolve(self, relative: str) -> Path:
        """The absolute path of a stored relative path; refuses anything outside the root."""
        pure = PurePosixPath(relative)
        if not relative or pure.is_absolute() or ".." in pure.parts or "\\" in relative:
            raise ValueError(f"media path {relative!r} is not a relative path inside the store")
        path = (self.root / pure).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"media path {relative!r} leads outside the media root")
        return path

    def save(self, generation_id: str, source: Path, kind: str = "mp4") -> tuple[str, int]:
        """Copy `source` into place atomically; return (relative path, size in bytes).

        The file appears under its final name only once complete (temp file + rename in the
        same folder), so the web never serves half a clip, and a retried job just replaces it.
        """
        with open(source, "rb") as src:
            return self._write(generation_id, kind, lambda out: shutil.copyfileobj(src, out))

    def save_bytes(self, generation_id: str, data: bytes, kind: str) -> tuple[str, int]:
        """Write `data` into place atomically, as `save` does; return (relative path, size)."""
        return self._write(generation_id, kind, lambda out: out.write(data))

    def _write(
        self, generation_id: str, kind: str, fill: Callable[[BinaryIO], object]
    ) -> tuple[str, int]:
        target = self.path_for(generation_id, kind)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{generation_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.relative_path(generation_id, kind), target.stat().st_size
