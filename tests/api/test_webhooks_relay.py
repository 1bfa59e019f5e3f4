"""The webhook relay writes a page of clips in one go: clips with nowhere to send their events
only move on (no outbox row, no body built), clips with a target get their events, and an
endpoint added while the relay was looking still gets the clip's events. On SQLite and
PostgreSQL."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.webhooks.relay import Relay, events_due
from core.spec import CANCELLED
from gallery.api_clips import ApiClipNew, ApiClipStore
from gallery.apitables import ApiClip
from gallery.db import make_engine, migrate
from gallery.models import Generation, GenerationStatus, Moderation, utcnow
from gallery.store import GalleryStore
from gallery.webhook_outbox import Outbox
from gallery.webhook_store import REQUEST_TARGET, WebhookStore
from tests.gallery.factories import generation
from tests.gallery.test_webhook_store import add_clip, add_token

LAST_EVENTS = ["", "clip.queued", "clip.started", "clip.held"]  # the relay's poll reads these


class Links:
    public_url = "http://gallery.test"
    api_url = "http://api.test"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'reelbot.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database_url")
    made = make_engine(url)
    migrate(made)
    yield made
    made.dispose()


def last_events(outbox: Outbox) -> dict[str, str]:
    with Session(outbox.engine) as session:
        return {c.generation_id: c.last_event for c in session.exec(select(ApiClip))}


def test_clips_with_no_target_move_on_without_an_outbox_row(engine: Engine) -> None:
    store, outbox = GalleryStore(engine), Outbox(engine)
    token = add_token(engine)
    quiet = [add_clip(store, token) for _ in range(5)]
    hooked = add_clip(store, token, webhook_url="https://a.example/hook")
    relay = Relay(outbox, Links())

    assert relay.relay_changed(None) == 1  # the hooked clip's clip.queued, nothing else
    assert set(last_events(outbox).values()) == {"clip.queued"}
    assert all(outbox.deliveries(clip.generation_id) == [] for clip in quiet)
    [row] = outbox.deliveries(hooked.generation_id)
    assert (row.target, row.event) == (REQUEST_TARGET, "clip.queued")
    assert json.loads(row.payload)["data"]["id"] == hooked.generation_id

    store.mark_rendering(quiet[0].generation_id, worker="w", attempt=1)
    assert relay.relay_changed(None) == 0
    assert last_events(outbox)[quiet[0].generation_id] == "clip.started"
    assert relay.relay_changed(None) == 0  # nothing new: nothing written, nothing moved


def test_an_endpoint_gets_every_clip_of_its_token(engine: Engine) -> None:
    store, outbox = GalleryStore(engine), Outbox(engine)
    token, other = add_token(engine), add_token(engine, "tok000000002", "discord:43")
    endpoint = WebhookStore(engine).create_endpoint(token, "https://a.example/hook", [])
    mine = [add_clip(store, token) for _ in range(3)]
    theirs = add_clip(store, other)

    assert Relay(outbox, Links()).relay_changed(None) == 3
    for clip in mine:
        [row] = outbox.deliveries(clip.generation_id)
        assert (row.target, row.event) == (endpoint.endpoint.id, "clip.queued")
    assert outbox.deliveries(theirs.generation_id) == []


def test_an_endpoint_added_while_the_relay_looked_still_gets_the_event(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, outbox = GalleryStore(engine), Outbox(engine)
    token = add_token(engine)
    clip = add_clip(store, token)
    endpoints = WebhookStore(engine)
    looked = outbox.targeted_tokens

    def look_then_add(token_ids: set[str]) -> set[str]:
        seen = looked(token_ids)  # no endpoint yet: the relay builds no body for the clip
        endpoints.create_endpoint(token, "https://late.example/hook", [])
        return seen

    monkeypatch.setattr(outbox, "targeted_tokens", look_then_add)
    assert Relay(outbox, Links()).relay_changed(None) == 1
    [row] = outbox.deliveries(clip.generation_id)
    assert row.url == "https://late.example/hook" and row.event == "clip.queued"
    assert json.loads(row.payload)["data"]["status"] == "queued"


def test_two_relays_over_the_same_clips_write_each_event_once(engine: Engine) -> None:
    store, outbox = GalleryStore(engine), Outbox(engine)
    token = add_token(engine)
    clips = [add_clip(store, token, webhook_url="https://a.example/hook") for _ in range(4)]
    quiet = add_clip(store, token)
    first, second = Relay(Outbox(engine), Links()), Relay(Outbox(engine), Links())
    page = outbox.clips_to_relay(changed_since=None)

    assert first.relay_page(page) == 4
    assert second.relay_page(page) == 0  # read before the first wrote: every move refused
    assert all(len(outbox.deliveries(clip.generation_id)) == 1 for clip in clips)
    assert last_events(outbox)[quiet.generation_id] == "clip.queued"


def test_the_poll_leaves_out_only_clips_with_nothing_due(engine: Engine) -> None:
    """Every state a row can be in against every last event not final: a clip the poll's query
    leaves in the database (`STILL_QUEUED`) is one the relay would write nothing for."""
    store, outbox = GalleryStore(engine), Outbox(engine)
    token = add_token(engine)
    cases: dict[str, tuple[GenerationStatus, Moderation, str | None, str]] = {}
    for status, moderation, error, last in itertools.product(
        GenerationStatus, Moderation, [None, CANCELLED, "out of memory"], LAST_EVENTS
    ):
        clip = add_clip(store, token)
        cases[clip.generation_id] = (status, moderation, error, last)
    with Session(engine) as session:
        for gid, (status, moderation, error, last) in cases.items():
            row = session.get(Generation, gid)
            assert row is not None
            row.status, row.moderation, row.error = status, moderation, error
            row.started_at = utcnow() if status != GenerationStatus.QUEUED else None
            session.add(row)
            api_clip = session.get(ApiClip, gid)
            assert api_clip is not None
            api_clip.last_event = last
            session.add(api_clip)
        session.commit()
    read = {c.generation_id for c in outbox.clips_to_relay(changed_since=None, limit=10_000)}
    left_out = set(cases) - read
    assert left_out  # the common case is left out...
    with Session(engine) as session:
        for gid in left_out:  # ...and only where nothing is due
            row = session.get(Generation, gid)
            assert row is not None and events_due(row, cases[gid][3]) == [], cases[gid]


def test_a_clip_with_no_target_is_noted_as_told_and_read_again_only_once_it_changes(
    engine: Engine,
) -> None:
    store, outbox, api_clips = GalleryStore(engine), Outbox(engine), ApiClipStore(engine)
    quiet_token, hooked_token = add_token(engine), add_token(engine, "tok000000002", "discord:43")
    WebhookStore(engine).create_endpoint(hooked_token, "https://a.example/hook", [])
    quiet, with_url, via_endpoint = (generation() for _ in range(3))
    for new in (quiet, with_url, via_endpoint):
        assert store.add_generation(new)
    api_clips.record_many(
        [
            ApiClipNew(quiet.id, quiet_token),
            ApiClipNew(with_url.id, quiet_token, webhook_url="https://b.example/hook"),
            ApiClipNew(via_endpoint.id, hooked_token),
        ]
    )
    assert last_events(outbox) == {quiet.id: "clip.queued", with_url.id: "", via_endpoint.id: ""}
    polled = outbox.clips_to_relay(changed_since=None)
    assert {c.generation_id for c in polled} == {with_url.id, via_endpoint.id}

    relay = Relay(outbox, Links())
    assert relay.relay_changed(None) == 2  # each targeted clip's clip.queued
    store.mark_rendering(quiet.id, worker="w", attempt=1)
    assert relay.relay_changed(None) == 0
    assert last_events(outbox)[quiet.id] == "clip.started"
    assert outbox.deliveries(quiet.id) == []
