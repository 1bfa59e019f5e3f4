"""Clip files in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, Garage, …), via boto3.

The local media folder stays the working copy: the worker encodes into it as before and then
`publish`es the files; the bot's `save_bytes` writes and uploads in one call. Object keys are
a prefix and the stored relative path, which `gallery.media.parse_relative` checks is a
generation id and a kind, so no key ever carries text a person typed:

    private/ab/ab12….mp4   every file, as written: the truth, never public
    public/ab/ab12….mp4    a copy of a public clip's PUBLIC_KINDS, only while it is public
                           and only when `s3_public_url` (which serves this prefix) is set

The operator makes `public/` alone readable by anyone; `expose` copies a clip's public media
in and `withdraw` deletes those copies (`gallery.visibility` calls them as the row changes), so
a held, hidden, removed or deleted clip, a member's inputs and a contact sheet never answer an
anonymous request. Objects an older version wrote at the bare relative path are still read
(`adopt_legacy`, run by `reelbot media sync`, moves them).

Readers: the gallery redirects to `url_for` (`s3_public_url` + path for a public clip's
exposed media, else a presigned GET of the private copy); the bot and worker `fetch` a local
copy, downloading it when this machine did not write it. boto3 is synchronous: every method
here blocks, so async code calls them through `asyncio.to_thread` (boto3 clients are safe to
share between threads).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gallery.media import CONTENT_TYPES, PUBLIC_KINDS, LocalMediaStore, parse_relative

if TYPE_CHECKING:
    from gallery.settings import GallerySettings

log = logging.getLogger(__name__)

# A generation's files never change under its id: caches may keep them for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
# Public copies can be withdrawn (a hide, a delete): a CDN in front drops one within the hour.
WITHDRAWABLE = "public, max-age=3600"
PRIVATE = "private/"
PUBLIC = "public/"
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
URL_EXPIRY_S = 3600  # presigned GETs; the gallery's redirects are cached for much less
_KNOWN_LIMIT = 50_000  # keys known to exist, remembered to spare a HEAD per request
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


class S3MediaStore(LocalMediaStore):
    """A local working folder mirrored to one bucket; the bucket is the shared truth."""

    def __init__(
        self,
        root: Path,
        client: Any,
        bucket: str,
        *,
        public_url: str | None = None,
        url_expiry_s: int = URL_EXPIRY_S,
    ) -> None:
        super().__init__(root)
        if not bucket:
            raise ValueError("bucket must be set for the S3 media store (REELBOT_S3_BUCKET)")
        self.client = client
        self.bucket = bucket
        self.public_url = public_url.rstrip("/") if public_url else None
        self.url_expiry_s = url_expiry_s
        self._known: set[str] = set()  # paths whose private object exists
        self._exposed: set[str] = set()  # paths with a public copy (as far as we know)

    @classmethod
    def from_settings(cls, settings: GallerySettings) -> S3MediaStore:
        """A boto3 client from the `REELBOT_S3_*` settings (else boto3's credential chain)."""
        import boto3
        from botocore.config import Config

        secret = settings.s3_secret_access_key
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region or "us-east-1",
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                signature_version="s3v4",
                # Self-hosted servers (MinIO, Garage, moto) rarely have per-bucket DNS names.
                s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
                retries={"mode": "standard", "max_attempts": 5},
            ),
        )
        return cls(
            settings.resolved_media_dir(),
            client,
            settings.s3_bucket or "",
            public_url=settings.s3_public_url,
        )

    # Writing ----------------------------------------------------------------------------

    def _write(self, generation_id: str, kind: str, fill: Any) -> tuple[str, int]:
        relative, size = super()._write(generation_id, kind, fill)
        self._upload(relative)
        return relative, size

    def publish(self, generation_id: str, kinds: Iterable[str]) -> list[str]:
        """Upload the files written in place (those that exist), privately; their paths."""
        published = super().publish(generation_id, kinds)
        for relative in published:
            self._upload(relative)
        return published

    def _upload(self, relative: str) -> None:
        _gid, kind = parse_relative(relative)
        extra = {"ContentType": CONTENT_TYPES[kind], "CacheControl": IMMUTABLE}
        key = PRIVATE + relative
        self.client.upload_file(str(self.resolve(relative)), self.bucket, key, ExtraArgs=extra)
        self._remember(relative)

    # Who can see what ---------------------------------------------------------------------

    def expose(self, generation_id: str) -> list[str]:
        """Copy the clip's PUBLIC_KINDS (those that exist) under `public/`, the prefix the
        public URL serves; the paths copied. Nothing without a public URL: presigned URLs
        serve everyone then. Only for a clip whose row says public (`gallery.visibility`)."""
        if not self.public_url:
            return []
        exposed = []
        for kind in PUBLIC_KINDS:
            relative = self.relative_path(generation_id, kind)
            for source in (PRIVATE + relative, relative):  # the second: an older version's key
                if self._copy(source, PUBLIC + relative, kind):
                    exposed.append(relative)
                    self._remember(relative, self._exposed)
                    break
        return exposed

    def withdraw(self, generation_id: str) -> None:
        """Delete the clip's copies under `public/` (idempotent: missing ones are fine)."""
        relatives = [self.relative_path(generation_id, kind) for kind in PUBLIC_KINDS]
        self._exposed.difference_update(relatives)
        self._delete_keys([PUBLIC + relative for relative in relatives])

    def remove(self, generation_id: str, kinds: Iterable[str]) -> None:
        """Delete these files for good: the local copy, the private object, any public copy
        and any object an older version wrote."""
        kinds = list(kinds)
        super().remove(generation_id, kinds)
        relatives = [self.relative_path(generation_id, kind) for kind in kinds]
        self._exposed.difference_update(relatives)
        self._known.difference_update(relatives)
        self._delete_keys(
            [prefix + relative for relative in relatives for prefix in (PUBLIC, PRIVATE, "")]
        )

    def evict(self, relatives: Iterable[str]) -> None:
        """Delete the local copies (the bucket keeps the files; `fetch` downloads them again)."""
        for relative in relatives:
            parse_relative(relative)
            self.resolve(relative).unlink(missing_ok=True)

    def adopt_legacy(self) -> Iterator[str]:
        """Move each object an older version wrote at the bare path to `private/` (copy, then
        delete the old key), yielding its generation id; keys that are not a generation's file
        are left alone. Safe to stop and run again."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.startswith((PRIVATE, PUBLIC)):
                    continue
                try:
                    generation_id, _kind = parse_relative(key)
                except ValueError:
                    log.warning("left %r alone: not a generation's file", key)
                    continue
                source = {"Bucket": self.bucket, "Key": key}
                self.client.copy_object(Bucket=self.bucket, Key=PRIVATE + key, CopySource=source)
                self._delete_keys([key])
                yield generation_id

    def _copy(self, source: str, target: str, kind: str) -> bool:
        """A server-side copy to a public key; False when the source is not there."""
        from botocore.exceptions import ClientError

        try:
            self.client.copy_object(
                Bucket=self.bucket,
                Key=target,
                CopySource={"Bucket": self.bucket, "Key": source},
                MetadataDirective="REPLACE",
                ContentType=CONTENT_TYPES[kind],
                CacheControl=WITHDRAWABLE,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 keys at most
            chunk = [{"Key": key} for key in keys[start : start + 1000]]
            answer = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True}
            )
            if errors := answer.get("Errors"):
                first = errors[0]
                raise OSError(
                    f"bucket {self.bucket} did not delete {len(errors)} objects, e.g. "
                    f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )

    # Reading ----------------------------------------------------------------------------

    def exists(self, relative: str) -> bool:
        """Whether the bucket has the file (a HEAD, skipped for keys already seen)."""
        if relative in self._known:
            return True
        return self._find(relative) is not None

    def fetch(self, relative: str, *, max_bytes: int | None = None) -> Path | None:
        """The local copy if there is one, else the object downloaded into the local folder
        (only if it is at most `max_bytes`); None when the bucket has no such file."""
        path = self.resolve(relative)
        if path.is_file():
            return super().fetch(relative, max_bytes=max_bytes)
        found = self._find(relative)
        if found is None or (max_bytes is not None and found[1] > max_bytes):
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                self.client.download_fileobj(self.bucket, found[0], out)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.debug("downloaded %s from bucket %s", relative, self.bucket)
        return path

    def url_for(
        self, relative: str, *, download_name: str | None = None, private: bool = False
    ) -> str:
        """`s3_public_url` + path for a public view of exposed public media (the gallery asks
        only for public clips), else a presigned GET of the private object: always for
        moderators' `private` views and for downloads, which need a Content-Disposition, and
        for a clip whose public copy is not there (yet)."""
        _gid, kind = parse_relative(relative)
        if (
            self.public_url
            and not private
            and download_name is None
            and kind in PUBLIC_KINDS
            and self._is_exposed(relative)
        ):
            return f"{self.public_url}/{relative}"
        found = self._find(relative) if relative not in self._known else None
        params = {
            "Bucket": self.bucket,
            "Key": found[0] if found else PRIVATE + relative,
            "ResponseContentType": CONTENT_TYPES[kind],
        }
        if download_name is not None:
            if not _FILENAME.fullmatch(download_name):
                raise ValueError(f"download_name {download_name!r} is not a plain file name")
            params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
        url: str = self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.url_expiry_s
        )
        return url

    @property
    def url_origins(self) -> tuple[str, ...]:
        presigned = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": "00/origin"}, ExpiresIn=60
        )
        origins = [_origin(presigned)]
        if self.public_url:
            origins.insert(0, _origin(self.public_url))
        return tuple(dict.fromkeys(origins))

    def _find(self, relative: str) -> tuple[str, int] | None:
        """(key, size) of the file: its private object, else one an older version wrote."""
        parse_relative(relative)
        for key in (PRIVATE + relative, relative):
            size = self._head(key)
            if size is not None:
                if key.startswith(PRIVATE):
                    self._remember(relative)
                return key, size
        return None

    def _is_exposed(self, relative: str) -> bool:
        if relative in self._exposed:
            return True
        if self._head(PUBLIC + relative) is None:
            return False
        self._remember(relative, self._exposed)
        return True

    def _head(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        return int(head["ContentLength"])

    def _remember(self, relative: str, known: set[str] | None = None) -> None:
        known = self._known if known is None else known
        if len(known) >= _KNOWN_LIMIT:
            known.clear()
        known.add(relative)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
