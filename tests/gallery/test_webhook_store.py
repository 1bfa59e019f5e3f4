"""Webhook endpoints and the outbox, on SQLite and PostgreSQL: events written once per clip and
target, claimed by one process at a time, in order, retried with backoff, given up after a day;
an endpoint failing for a day disabled once, its owner named."""

from __future__ import annotations

import base64
import random
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.errors import FlagError, UserFacingError
from gallery.apitables import ApiClip, ApiToken, WebhookDelivery
from gallery.models import utcnow
from gallery.store import GalleryStore
from gallery.webhook_outbox import NewEvent, Outbox, Retry
from gallery.webhook_store import MAX_ENDPOINTS, REQUEST_TARGET, WebhookStore, parse_events
from tests.gallery.factories import generation

NO_WAIT = timedelta(0)


def add_token(engine: Engine, token_id: str = "tok000000001", member: str = "discord:42") -> str:
    with Session(engine) as session:
        session.add(
            ApiToken(
                id=token_id,
                member_id=member,
                name="site",
                scopes="clips:read webhooks:manage",
                secret_hash="0" * 64,
                webhook_secret="whsec_" + base64.b64encode(b"k" * 24).decode(),
                created_by=member,
            )
        )
        session.commit()
    return token_id


def add_clip(store: GalleryStore, token_id: str, webhook_url: str | None = None) -> ApiClip:
    new = generation()
    assert store.add_generation(new)
    clip = ApiClip(generation_id=new.id, token_id=token_id, webhook_url=webhook_url)
    with Session(store.engine, expire_on_commit=False) as session:
        session.add(clip)
        session.commit()
    return clip


def events(*names: str) -> list[NewEvent]:
    return [NewEvent(name, seq, f'{{"type": "{name}"}}') for seq, name in enumerate(names)]


@pytest.fixture
def token(engine: Engine) -> str:
    return add_token(engine)


def test_an_endpoint_is_made_with_a_secret_listed_and_deleted_by_its_token_only(
    engine: Engine, token: str
) -> None:
    endpoints = WebhookStore(engine)
    issued = endpoints.create_endpoint(token, "https://example.com/hook", ["clip.succeeded"])
    assert issued.secret.startswith("whsec_") and issued.secret not in repr(issued)
    assert len(base64.b64decode(issued.secret.removeprefix("whsec_"))) == 24
    other = add_token(engine, "tok000000002", "discord:43")
    assert [e.id for e in endpoints.list_endpoints(token)] == [issued.endpoint.id]
    assert endpoints.list_endpoints(other) == []
    assert endpoints.get_endpoint(issued.endpoint.id, other) is None
    assert not endpoints.delete_endpoint(issued.endpoint.id, other)
    assert endpoints.get_endpoint(issued.endpoint.id, token).events == "clip.succeeded"
    assert endpoints.delete_endpoint(issued.endpoint.id, token)
    assert endpoints.list_endpoints(token) == []
    assert not endpoints.delete_endpoint("we_' OR 1=1 --", token)


def test_a_token_has_at_most_ten_endpoints(engine: Engine, token: str) -> None:
    endpoints = WebhookStore(engine)
    for n in range(MAX_ENDPOINTS):
        endpoints.create_endpoint(token, f"https://example.com/{n}", [])
    with pytest.raises(UserFacingError, match="at most 10 webhook endpoints; delete one"):
        endpoints.create_endpoint(token, "https://example.com/more", [])


def test_an_unknown_event_is_refused_by_name_with_the_allowed_ones() -> None:
    with pytest.raises(FlagError) as refused:
        parse_events(["clip.succeded"])
    assert refused.value.token == "clip.succeded"
    assert refused.value.suggestion == "clip.succeeded"
    assert "clip.cancelled" in refused.value.allowed
    assert parse_events(["clip.failed", "clip.queued", "clip.failed"]) == (
        "clip.queued",
        "clip.failed",
    )


def test_events_are_written_once_for_each_target_that_wants_them(
    engine: Engine, token: str
) -> None:
    store, outbox, endpoints = GalleryStore(engine), Outbox(engine), WebhookStore(engine)
    every = endpoints.create_endpoint(token, "https://a.example/hook", []).endpoint
    final = endpoints.create_endpoint(token, "https://b.example/hook", ["clip.succeeded"]).endpoint
    off = endpoints.create_endpoint(token, "https://c.example/hook", []).endpoint
    with Session(engine) as session:
        session.exec(
            sa.update(type(off)).where(type(off).id == off.id).values(disabled_at=utcnow())
        )
        session.commit()
    clip = add_clip(store, token, webhook_url="https://me.example/x?sig=1")

    written = events("clip.queued", "clip.started", "clip.succeeded")
    assert outbox.record_events(clip, after="", last="clip.succeeded", events=written)
    assert not outbox.record_events(clip, after="", last="clip.succeeded", events=written)

    rows = outbox.deliveries(clip.generation_id)
    by_target: dict[str, list[str]] = {}
    for row in rows:
        by_target.setdefault(row.target, []).append(row.event)
    assert by_target == {
        REQUEST_TARGET: ["clip.queued", "clip.started", "clip.succeeded"],
        every.id: ["clip.queued", "clip.started", "clip.succeeded"],
        final.id: ["clip.succeeded"],
    }
    assert len({row.id for row in rows}) == len(rows)  # a webhook-id per event and target
    assert all(row.id.startswith("msg_") for row in rows)
    with Session(engine) as session:
        assert session.get(ApiClip, clip.generation_id).last_event == "clip.succeeded"


def test_only_one_of_racing_relays_writes_a_clips_events(engine: Engine, token: str) -> None:
    store, outbox = GalleryStore(engine), Outbox(engine)
    clip = add_clip(store, token, webhook_url="https://me.example/x")
    wins: list[bool] = []
    barrier = threading.Barrier(4)

    def relay() -> None:
        barrier.wait()
        written = events("clip.queued")
        wins.append(outbox.record_events(clip, after="", last="clip.queued", events=written))

    threads = [threading.Thread(target=relay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False, False, False, True]
    assert [r.event for r in outbox.deliveries(clip.generation_id)] == ["clip.queued"]


def test_a_clips_events_are_due_one_at_a_time_in_order(engine: Engine, token: str) -> None:
    store, outbox = GalleryStore(engine), Outbox(engine)
    clip = add_clip(store, token, webhook_url="https://me.example/x")
    written = events("clip.queued", "clip.started", "clip.failed")
    outbox.record_events(clip, after="", last="clip.failed", events=written)
    sent = []
    while claimed := outbox.claim_due():
        [one] = claimed  # the next waits for this one
        assert one.secret.startswith("whsec_") and one.member_id == "discord:42"
        assert outbox.claim_due() == []  # leased, and the next still waits
        sent.append(one.event)
        outbox.mark_delivered(one)
    assert sent == ["clip.queued", "clip.started", "clip.failed"]


def test_a_lease_keeps_others_off_until_it_ends(engine: Engine, token: str) -> None:
    store, outbox = GalleryStore(engine), Outbox(engine)
    clip = add_clip(store, token, webhook_url="https://me.example/x")
    outbox.record_events(clip, after="", last="clip.queued", events=events("clip.queued"))
    [first] = outbox.claim_due(lease=timedelta(minutes=5))
    assert outbox.claim_due() == []
    with Session(engine) as session:  # the process holding it was killed; its lease ends
        ended = utcnow() - timedelta(seconds=1)
        session.exec(sa.update(WebhookDelivery).values(locked_until=ended))
        session.commit()
    [again] = outbox.claim_due()
    assert (again.id, again.attempts) == (first.id, 2)  # the same webhook-id, a second attempt


def test_racing_claims_never_hand_one_delivery_to_two_processes(engine: Engine, token: str) -> None:
    store, outbox = GalleryStore(engine), Outbox(engine)
    for _ in range(20):
        clip = add_clip(store, token, webhook_url="https://me.example/x")
        outbox.record_events(clip, after="", last="clip.queued", events=events("clip.queued"))
    won: list[str] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        barrier.wait()
        won.extend(c.id for c in outbox.claim_due(limit=20))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == len(set(won))
    won.extend(c.id for c in outbox.claim_due(limit=20))  # any a losing SELECT left
    assert len(won) == len(set(won)) == 20


def test_failures_back_off_with_jitter_then_are_given_up(engine: Engine, token: str) -> None:
    store = GalleryStore(engine)
    outbox = Outbox(engine, Retry(first_s=10, cap_s=40))
    clip = add_clip(store, token, webhook_url="https://me.example/x")
    outbox.record_events(clip, after="", last="clip.queued", events=events("clip.queued"))
    rng = random.Random(1)
    waits = []
    for attempt in range(1, 6):
        with Session(engine) as session:  # its time has come
            session.exec(sa.update(WebhookDelivery).values(next_attempt_at=utcnow()))
            session.commit()
        [claimed] = outbox.claim_due()
        assert claimed.attempts == attempt
        before = utcnow()
        assert outbox.record_failure(claimed, "HTTP 500", rng) is None
        [row] = outbox.deliveries(clip.generation_id)
        waits.append((row.next_attempt_at - before).total_seconds())
        assert row.last_error == "HTTP 500" and row.given_up_at is None
    full = [10, 20, 40, 40, 40]
    assert all(f / 2 - 0.5 <= w <= f + 0.5 for w, f in zip(waits, full, strict=True)), waits
    assert len({round(w, 3) for w in waits}) == 5  # jittered, not in lockstep

    late = Outbox(engine, Retry(give_up_after=NO_WAIT))
    with Session(engine) as session:
        session.exec(sa.update(WebhookDelivery).values(next_attempt_at=utcnow()))
        session.commit()
    [claimed] = late.claim_due()
    late.record_failure(claimed, "connection refused")
    [row] = late.deliveries(clip.generation_id)
    assert row.given_up_at is not None and row.delivered_at is None
    assert late.claim_due() == []


def test_an_endpoint_failing_for_a_day_is_disabled_once_and_its_owner_named(
    engine: Engine, token: str
) -> None:
    store, endpoints = GalleryStore(engine), WebhookStore(engine)
    endpoint = endpoints.create_endpoint(token, "https://down.example/hook?key=s3cret", []).endpoint
    clip = add_clip(store, token)
    patient = Outbox(engine, Retry(first_s=0.0))
    patient.record_events(
        clip, after="", last="clip.started", events=events("clip.queued", "clip.started")
    )

    [claimed] = patient.claim_due()
    assert patient.record_failure(claimed, "HTTP 503") is None
    failing = endpoints.get_endpoint(endpoint.id, token)
    assert failing.failing_since is not None and failing.disabled_at is None
    [claimed] = patient.claim_due()
    patient.mark_delivered(claimed)  # it answered: the run of failures is over
    assert endpoints.get_endpoint(endpoint.id, token).failing_since is None

    impatient = Outbox(engine, Retry(first_s=0.0, disable_after=NO_WAIT))
    [claimed] = impatient.claim_due()
    assert claimed.event == "clip.started"
    disabled = impatient.record_failure(claimed, "HTTP 503")
    assert disabled is not None
    assert (disabled.endpoint_id, disabled.member_id) == (endpoint.id, "discord:42")
    off = endpoints.get_endpoint(endpoint.id, token)
    assert off.disabled_at is not None and "HTTP 503" in off.disabled_reason
    [_, started] = impatient.deliveries(clip.generation_id)
    assert started.given_up_at is not None  # nothing more goes to a disabled endpoint
    assert impatient.claim_due() == []

    later = add_clip(store, token)
    impatient.record_events(later, after="", last="clip.queued", events=events("clip.queued"))
    assert impatient.deliveries(later.generation_id) == []  # disabled: no new events either

    back = endpoints.enable_endpoint(endpoint.id, token)
    assert back.disabled_at is None and back.failing_since is None
    again = add_clip(store, token)
    impatient.record_events(again, after="", last="clip.queued", events=events("clip.queued"))
    assert [r.target for r in impatient.deliveries(again.generation_id)] == [endpoint.id]


def test_deleting_an_endpoint_gives_up_what_waits_for_it(engine: Engine, token: str) -> None:
    store, outbox, endpoints = GalleryStore(engine), Outbox(engine), WebhookStore(engine)
    endpoint = endpoints.create_endpoint(token, "https://a.example/hook", []).endpoint
    clip = add_clip(store, token)
    outbox.record_events(clip, after="", last="clip.queued", events=events("clip.queued"))
    assert endpoints.delete_endpoint(endpoint.id, token)
    [row] = outbox.deliveries(clip.generation_id)
    assert row.given_up_at is not None and "deleted" in row.last_error
    assert outbox.claim_due() == []


def test_clips_to_relay_are_those_not_finished_and_changed_since(
    engine: Engine, token: str
) -> None:
    store, outbox = GalleryStore(engine), Outbox(engine)
    old = add_clip(store, token)
    done = add_clip(store, token)
    outbox.record_events(done, after="", last="clip.succeeded", events=events("clip.succeeded"))
    since = utcnow()
    fresh = add_clip(store, token)
    assert {c.generation_id for c in outbox.clips_to_relay(changed_since=None)} == {
        old.generation_id,
        fresh.generation_id,
    }
    assert [c.generation_id for c in outbox.clips_to_relay(changed_since=since)] == [
        fresh.generation_id
    ]
    store.mark_rendering(old.generation_id, worker="w", attempt=1)
    assert {c.generation_id for c in outbox.clips_to_relay(changed_since=since)} == {
        old.generation_id,
        fresh.generation_id,
    }
    first = sorted([old.generation_id, fresh.generation_id])
    page = outbox.clips_to_relay(changed_since=None, after_id=first[0])
    assert [c.generation_id for c in page] == [first[1]]
