"""Media paths come only from generation ids and a fixed list of kinds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gallery.media import LocalMediaStore

GID = "0123456789abcdef0123456789abcdef"


def test_paths_are_sharded_by_id(media: LocalMediaStore) -> None:
    assert media.relative_path(GID) == f"01/{GID}.mp4"
    assert media.relative_path(GID, "webp") == f"01/{GID}.webp"
    path = media.path_for(GID, "jpg")
    assert path == media.root / "01" / f"{GID}.jpg"
    assert path.parent.is_dir()
    assert media.resolve(media.relative_path(GID)) == media.root / "01" / f"{GID}.mp4"


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "0123456789ABCDEF0123456789ABCDEF",  # upper case
        GID[:-1],
        GID + "0",
        GID[:-1] + "\n",
        GID + "\n",
        "../../../../etc/passwd",
        "../" + GID[3:],
        "0123456789abcdef/123456789abcdef",
        "g" * 32,
    ],
)
def test_non_hex_ids_are_refused(media: LocalMediaStore, bad_id: str) -> None:
    with pytest.raises(ValueError):
        media.relative_path(bad_id)
    with pytest.raises(ValueError):
        media.path_for(bad_id)
    assert not media.root.exists() or not any(media.root.iterdir())


@pytest.mark.parametrize("kind", ["", "exe", "MP4", "mp4/../x", "html", "mp4\x00"])
def test_unknown_kinds_are_refused(media: LocalMediaStore, kind: str) -> None:
    with pytest.raises(ValueError, match="kind"):
        media.path_for(GID, kind)


@pytest.mark.parametrize(
    "relative",
    ["", "../secret", "01/../../secret", "/etc/passwd", "..", "01/..\\..\\secret", "./../x"],
)
def test_resolve_refuses_paths_outside_the_root(media: LocalMediaStore, relative: str) -> None:
    with pytest.raises(ValueError):
        media.resolve(relative)


def test_resolve_refuses_symlinks_out_of_the_root(media: LocalMediaStore, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    media.root.mkdir(parents=True)
    os.symlink(tmp_path, media.root / "escape")
    with pytest.raises(ValueError, match="outside"):
        media.resolve("escape/secret.txt")


def test_save_puts_a_complete_file_in_place(media: LocalMediaStore, tmp_path: Path) -> None:
    source = tmp_path / "render.mp4"
    source.write_bytes(b"\x00\x01" * 5000)
    relative, size = media.save(GID, source)
    assert (relative, size) == (f"01/{GID}.mp4", 10000)
    assert media.resolve(relative).read_bytes() == source.read_bytes()
    source.write_bytes(b"retry")  # a retried job replaces the file
    assert media.save(GID, source)[1] == 5
    assert [p.name for p in (media.root / "01").iterdir()] == [f"{GID}.mp4"]  # no temp files


def test_save_bytes_stores_an_input_image_atomically(media: LocalMediaStore) -> None:
    relative, size = media.save_bytes(GID, b"\x89PNG fake", "png")
    assert (relative, size) == (f"01/{GID}.png", 9)
    assert media.resolve(relative).read_bytes() == b"\x89PNG fake"
    assert [p.name for p in (media.root / "01").iterdir()] == [f"{GID}.png"]  # no temp files
    with pytest.raises(ValueError, match="kind"):
        media.save_bytes(GID, b"x", "html")


def test_the_local_folder_is_the_store_evict_and_expose_change_nothing(
    media: LocalMediaStore,
) -> None:
    relative, _ = media.save_bytes(GID, b"clip", "mp4")
    assert media.expose(GID) == []  # the gallery serves files itself, row checked
    media.withdraw(GID)
    media.evict([relative])
    assert media.resolve(relative).read_bytes() == b"clip"
    media.remove(GID, ["mp4", "jpg"])  # what is not there is fine
    assert not media.resolve(relative).exists()
    with pytest.raises(ValueError):
        media.evict(["../secret"])
