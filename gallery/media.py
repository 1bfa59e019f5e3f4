"""Where clip files live: a local folder, addressed only by generation id.

Paths are derived from the 32-hex generation id and a kind from a fixed list, never from
anything a person typed, so no request can name a file outside the media root. Files are
sharded by the id's first two characters to keep directories small.

Kinds: `mp4` the clip, `small.mp4` a copy under the upload cap (only when the clip is over
it), `preview.mp4` the short muted copy the gallery grid plays, `jpg`/`webp` stills, `png` a
member's input image for image-to-video (always re-encoded by the bot before it gets here, never
the bytes the member sent), `input.mp4`/`.mov`/`.webm`/`.mkv` a member's video for `/restyle`
(kept as sent for the worker to decode; nothing serves it), `sheet.png` the contact sheet of a
clip the output scan held (for moderators only: the gallery never serves it).

`LocalMediaStore` is also the interface: `gallery.s3media.S3MediaStore` keeps the same local
folder as a working copy and mirrors it to a bucket. Writers write locally (encoding stays
file-based) and then `publish`; readers ask `fetch` for a local file, `exists`, or `url_for` a
URL to redirect to (None here: the gallery serves the file itself). `gallery.mediastore`
picks one of the two from the settings.

Who may see a file is the gallery row's call, never the file's: here the gallery serves only
public clips' PUBLIC_KINDS, checking the row on every request, so `expose` and `withdraw` have
nothing to do; a bucket with a public prefix copies files in and out of it
(`gallery.visibility` keeps it in step with the rows). `remove` deletes a clip's files for
good (`gallery.deletion` decides when).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from core.ids import is_generation_id

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

CONTENT_TYPES = {
    "mp4": "video/mp4",
    "small.mp4": "video/mp4",
    "preview.mp4": "video/mp4",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "png": "image/png",
    "end.png": "image/png",  # the picture an /animate clip ends on (never public, as png)
    # the pictures of a /frames clip, in order (core.frames.PICTURE_KINDS; never public)
    "k0.png": "image/png",
    "k1.png": "image/png",
    "k2.png": "image/png",
    "k3.png": "image/png",
    "k4.png": "image/png",
    "sheet.png": "image/png",
    # an edit's mask (✏️ Modify, ↔ Expand, /add, /swap): where it may differ from its parent,
    # over the whole clip, white on black (never public, as sheet.png)
    "mask.png": "image/png",
    # a saved character's picture (`/character save`), keyed by the character's own id, not a
    # clip's: what `-ref NAME` puts in a clip (never public)
    "char.png": "image/png",
    # /create's `ref_image`: a picture the clip must show, under the clip's id (never public)
    "ref.png": "image/png",
    # a member's input video for /restyle, as sent (the gallery never serves these)
    "input.mp4": "video/mp4",
    "input.mov": "video/quicktime",
    "input.webm": "video/webm",
    "input.mkv": "video/x-matroska",
    # a story's finished shots (core.story.SHOT_KINDS), kept so a retry renders only the rest
    # (never public: the story's own mp4 is what visitors see)
    "s0.mp4": "video/mp4",
    "s1.mp4": "video/mp4",
    "s2.mp4": "video/mp4",
    "s3.mp4": "video/mp4",
    "s4.mp4": "video/mp4",
    "s5.mp4": "video/mp4",
    "s6.mp4": "video/mp4",
    "s7.mp4": "video/mp4",
    # /speak's voice: the member's upload decoded and written again as 16-bit PCM WAV by the
    # front end (core.speak.VOICE_KIND; never public, as the picture)
    "voice.wav": "audio/wav",
}
KINDS = frozenset(CONTENT_TYPES)
# What a visitor may see of a public clip: the clip, its smaller copies, its stills. A member's
# inputs (png, end.png, input.*), contact sheets (sheet.png) and edit masks (mask.png) are
# never public.
PUBLIC_KINDS = ("mp4", "small.mp4", "preview.mp4", "jpg", "webp")
# A stored relative path, exactly as `relative_path` makes it: shard / id . kind.
_RELATIVE = re.compile(r"^([0-9a-f]{2})/(\1[0-9a-f]{30})\.([a-z0-9.]+)$")


def check_generation_id(generation_id: str) -> str:
    """Return the id if it is exactly 32 lowercase hex characters, else raise ValueError."""
    if not is_generation_id(generation_id):
        raise ValueError(f"generation id {generation_id!r} is not 32 lowercase hex characters")
    return generation_id


def parse_relative(relative: str) -> tuple[str, str]:
    """(generation id, kind) of a path `relative_path` made; ValueError for anything else."""
    found = _RELATIVE.fullmatch(relative) if isinstance(relative, str) else None
    if found is None or found.group(3) not in KINDS:
        raise ValueError(f"media path {relative!r} is not a generation's file")
    return found.group(2), found.group(3)


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

    def publish(self, generation_id: str, kinds: Iterable[str]) -> list[str]:
        """Make files written in place (via `path_for`) available to every process; return
        the relative paths of those that exist. Here they already are: nothing to do."""
        return [
            self.relative_path(generation_id, kind)
            for kind in kinds
            if self.path_for(generation_id, kind).is_file()
        ]

    def exists(self, relative: str) -> bool:
        """Whether a stored file is there (ValueError for a path outside the store)."""
        return self.resolve(relative).is_file()

    def fetch(self, relative: str, *, max_bytes: int | None = None) -> Path | None:
        """A local file with the stored content, or None if there is none (or it is larger
        than `max_bytes`). Blocking: call it in a thread from async code."""
        path = self.resolve(relative)
        if not path.is_file() or (max_bytes is not None and path.stat().st_size > max_bytes):
            return None
        return path

    def url_for(
        self, relative: str, *, download_name: str | None = None, private: bool = False
    ) -> str | None:
        """A URL that serves the file, to redirect to; None: serve the local file yourself."""
        self.resolve(relative)
        return None

    @property
    def url_origins(self) -> tuple[str, ...]:
        """The origins (scheme://host) `url_for`'s URLs can have, for the pages' CSP."""
        return ()

    def expose(self, generation_id: str) -> list[str]:
        """Let anyone fetch a public clip's PUBLIC_KINDS without asking the gallery; the paths
        exposed. Here none: the gallery serves the files, after checking the row."""
        check_generation_id(generation_id)
        return []

    def withdraw(self, generation_id: str) -> None:
        """Undo `expose` (idempotent). Here nothing was exposed."""
        check_generation_id(generation_id)

    def remove(self, generation_id: str, kinds: Iterable[str]) -> None:
        """Delete these files of a generation for good (those that exist; idempotent)."""
        for kind in kinds:
            self.resolve(self.relative_path(generation_id, kind)).unlink(missing_ok=True)

    def evict(self, relatives: Iterable[str]) -> None:
        """Drop this machine's working copies of files the store keeps elsewhere, once the work
        on them is done (a remote worker's disk then holds only clips in hand). Here the
        folder is the store: nothing goes."""
        for relative in relatives:
            self.resolve(relative)

    def adopt_legacy(self) -> Iterator[str]:
        """Move files stored as an older version left them into today's layout, yielding each
        generation id moved. A local folder's layout never changed: none."""
        return iter(())

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
