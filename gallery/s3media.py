"""Clip files in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, Garage, …), via boto3.

The local media folder stays the working copy: the worker encodes into it as before and then
`publish`es the files; the bot's `save_bytes` writes and uploads in one call. Object keys are
the stored relative paths (`ab/ab12….mp4`), which `gallery.media.parse_relative` checks are a
generation id and a kind, so no key ever carries text a person typed.

Readers: the gallery redirects to `url_for` (a presigned GET, or `s3_public_url` + key when a
CDN or public bucket serves the files); the bot and worker `fetch` a local copy, downloading it
when this machine did not write it. boto3 is synchronous: every method here blocks, so async
code calls them through `asyncio.to_thread` (boto3 clients are safe to share between threads).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gallery.media import CONTENT_TYPES, LocalMediaStore, parse_relative

if TYPE_CHECKING:
    from gallery.settings import GallerySettings

log = logging.getLogger(__name__)

# A generation's files never change under its id: caches may keep them for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
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
        self._known: set[str] = set()

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
        """Upload the files written in place (those that exist); return their paths."""
        published = super().publish(generation_id, kinds)
        for relative in published:
            self._upload(relative)
        return published

    def _upload(self, relative: str) -> None:
        _gid, kind = parse_relative(relative)
        extra = {"ContentType": CONTENT_TYPES[kind], "CacheControl": IMMUTABLE}
        self.client.upload_file(str(self.resolve(relative)), self.bucket, relative, ExtraArgs=extra)
        self._remember(relative)

    # Reading ----------------------------------------------------------------------------

    def exists(self, relative: str) -> bool:
        """Whether the bucket has the file (a HEAD, skipped for keys already seen)."""
        if relative in self._known:
            return True
        return self._size(relative) is not None

    def fetch(self, relative: str, *, max_bytes: int | None = None) -> Path | None:
        """The local copy if there is one, else the object downloaded into the local folder
        (only if it is at most `max_bytes`); None when the bucket has no such file."""
        path = self.resolve(relative)
        if path.is_file():
            return super().fetch(relative, max_bytes=max_bytes)
        size = self._size(relative)
        if size is None or (max_bytes is not None and size > max_bytes):
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                self.client.download_fileobj(self.bucket, relative, out)
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
        """`s3_public_url` + key for public views, else a presigned GET (always for moderators'
        `private` views and for downloads, which need a Content-Disposition)."""
        _gid, kind = parse_relative(relative)
        if self.public_url and not private and download_name is None:
            return f"{self.public_url}/{relative}"
        params = {
            "Bucket": self.bucket,
            "Key": relative,
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

    def _size(self, relative: str) -> int | None:
        parse_relative(relative)
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=relative)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        self._remember(relative)
        return int(head["ContentLength"])

    def _remember(self, relative: str) -> None:
        if len(self._known) >= _KNOWN_LIMIT:
            self._known.clear()
        self._known.add(relative)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
