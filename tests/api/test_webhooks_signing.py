"""Webhook signatures as Standard Webhooks defines them: the spec's published vector, and the
reference library (`standardwebhooks`) accepting what we sign and we accepting what it signs."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from api.webhooks.signing import (
    TOLERANCE_S,
    InvalidSignature,
    new_message_id,
    sign,
    signed_headers,
    verify,
)

# The example in the Standard Webhooks specification and its reference libraries' tests.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def fresh_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def test_the_specifications_vector() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP + 10)


def test_the_reference_library_accepts_what_we_sign() -> None:
    secret = fresh_secret()
    event = {"type": "clip.succeeded", "data": {"id": "abc"}}
    body = json.dumps(event).encode()
    headers = signed_headers(secret, new_message_id(), body)
    assert Webhook(secret).verify(body, headers) == event
    with pytest.raises(WebhookVerificationError):
        Webhook(fresh_secret()).verify(body, headers)  # another endpoint's secret


def test_we_accept_what_the_reference_library_signs() -> None:
    secret = fresh_secret()
    message_id = new_message_id()
    now = datetime.now(UTC).replace(microsecond=0)
    body = '{"type": "clip.queued"}'
    signature = Webhook(secret).sign(message_id, now, body)
    headers = {
        "Webhook-Id": message_id,  # header names in any case
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": f"v1,{base64.b64encode(b'x' * 32).decode()} {signature}",
    }
    verify(secret, headers, body.encode())  # one of several signatures matches: enough


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda h, b: (h, b + b" "), "no signature matches"),  # the body changed
        (lambda h, b: ({**h, "webhook-id": "msg_other"}, b), "no signature matches"),
        (
            lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
            "no signature matches",
        ),
        (
            lambda h, b: ({**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, b),
            "no signature matches",
        ),  # only v1 is read
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), "are required"),
        (lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), "whole Unix seconds"),
    ],
)
def test_tampered_deliveries_are_refused(change, why: str) -> None:
    secret = fresh_secret()
    body = b'{"type": "clip.failed"}'
    headers, body = change(signed_headers(secret, new_message_id(), body), body)
    with pytest.raises(InvalidSignature, match=why):
        verify(secret, headers, body)


def test_old_and_future_timestamps_are_refused_as_replays() -> None:
    secret = fresh_secret()
    body = b"{}"
    sent_at = 1_700_000_000
    headers = signed_headers(secret, new_message_id(), body, now=sent_at)
    verify(secret, headers, body, now=sent_at + TOLERANCE_S)  # at the edge: still fine
    for now in (sent_at + TOLERANCE_S + 1, sent_at - TOLERANCE_S - 1):
        with pytest.raises(InvalidSignature, match="tolerance"):
            verify(secret, headers, body, now=now)


def test_message_ids_are_distinct_and_prefixed() -> None:
    ids = {new_message_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("msg_") and len(i) == 28 for i in ids)
