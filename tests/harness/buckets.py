"""An S3 bucket as an operator sets one up: moto's S3 server on localhost (a real HTTP API that
checks bucket policies for anonymous requests), with the README's policy making `public/`, and
only it, readable by anyone; and what a visitor without credentials gets from it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gallery.mediastore import make_media_store
from gallery.s3media import S3MediaStore
from gallery.settings import GallerySettings

PREFIXES = ("public/", "private/", "")  # every place a visitor could guess a file at


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server for one test module: its base URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_settings(endpoint: str, data_dir: Path, bucket: str, **more: Any) -> GallerySettings:
    return GallerySettings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        media_store="s3",
        s3_endpoint_url=endpoint,
        s3_bucket=bucket,
        s3_region="us-east-1",
        s3_access_key_id="test-key",
        s3_secret_access_key="test-secret",
        **more,
    )


def public_read_policy(bucket: str) -> str:
    """The bucket policy the README gives: anyone may GET objects under `public/`, nothing else."""
    statement = {
        "Sid": "PublicClips",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/public/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def new_bucket(endpoint: str, folder: Path) -> str:
    """A fresh bucket with the README's policy; its name."""
    name = f"clips-{uuid.uuid4().hex[:12]}"
    store = make_media_store(s3_settings(endpoint, folder, name))
    assert isinstance(store, S3MediaStore)
    store.client.create_bucket(Bucket=name)
    store.client.put_bucket_policy(Bucket=name, Policy=public_read_policy(name))
    return name


def anonymous_get(url: str) -> int:
    """The HTTP status a visitor without credentials gets for `url`."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def visitor_statuses(endpoint: str, bucket: str, relative: str) -> dict[str, int]:
    """What a visitor who knows a file's path gets at each prefix of the bucket."""
    return {
        prefix or "(bare)": anonymous_get(f"{endpoint}/{bucket}/{prefix}{relative}")
        for prefix in PREFIXES
    }


def objects(store: S3MediaStore, generation_id: str = "") -> list[str]:
    """The bucket's keys (those naming `generation_id`, if given)."""
    listed = store.client.list_objects_v2(Bucket=store.bucket)
    return sorted(
        item["Key"] for item in listed.get("Contents", []) if generation_id in item["Key"]
    )
