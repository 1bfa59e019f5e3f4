"""URLs and DSNs shown to operators never carry their password, whatever shape they have."""

from __future__ import annotations

import string
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.connection import parse_url

from core.redaction import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://reelbot:hunter2pw@cache:6379/0", "redis://reelbot:***@cache:6379/0"),
        # a password written as the user part: redis-py sends it as a bare AUTH
        ("redis://hunter2pw@cache:6379/0", "redis://***@cache:6379/0"),
        ("rediss://:hunter2pw@cache.example.com:6380", "rediss://:***@cache.example.com:6380"),
        ("unix://:hunter2pw@/run/redis.sock?db=1", "unix://:***@/run/redis.sock?db=1"),
        ("unix:///run/redis.sock?password=hunter2pw", "unix:///run/redis.sock?password=***"),
        ("redis://cache:6379/0?db=2&password=hunter2pw", "redis://cache:6379/0?db=2&password=***"),
        # a port that is no number: urllib's .port raises, this must not
        ("redis://:hunter2pw@cache:63a9/0", "redis://:***@cache:63a9/0"),
        ("redis://:hunter2pw@cache:99999", "redis://:***@cache:99999"),
        ("redis://:hunter2pw@[::1:6379", "redis://:***@[::1:6379"),
        # unescaped @ and / inside the password
        ("redis://:hun@ter2pw@cache:6379", "redis://:***@cache:6379"),
        ("redis://:hun/ter2pw@cache:6379", "redis://:***@cache:6379"),
        (
            "postgresql+psycopg://reelbot:hunter2pw@postgres:5432/reelbot",
            "postgresql+psycopg://reelbot:***@postgres:5432/reelbot",
        ),
        ("host=db user=reelbot password=hunter2pw", "host=db user=reelbot password=***"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("sqlite:///reelbot-data/reelbot.db", "sqlite:///reelbot-data/reelbot.db"),
        ("nonsense", "nonsense"),
        ("", ""),
    ],
)
def test_the_password_is_hidden_and_the_rest_kept(url: str, shown: str) -> None:
    assert redact_url(url) == shown


PASSWORDS = st.text(
    alphabet=string.ascii_letters + string.digits + string.punctuation, min_size=8, max_size=40
)


SKELETON = "rediss://user:***@cache:6379/0 cache:bad/0"  # what is shown besides secrets


def hidden(secret: str | None, shown: str) -> bool:
    """`secret` is not in `shown` (a few characters that the address itself has don't count)."""
    return not secret or secret in SKELETON or secret not in shown


@given(password=PASSWORDS, shape=st.sampled_from(["{q}", ":{p}", "user:{p}", "{p}"]))
def test_no_password_redis_would_send_is_ever_shown(password: str, shape: str) -> None:
    quoted = quote(password, safe="")
    userinfo = shape.format(p=password, q=quoted)
    for url in (f"redis://{userinfo}@cache:6379/0", f"rediss://{userinfo}@cache:bad/0"):
        shown = redact_url(url)
        if shape != "{p}" or ":" not in password:  # else it is user:password, the user shown
            assert hidden(password, shown) and hidden(quoted, shown)
        try:
            sent = parse_url(url)
        except ValueError:  # redis-py refuses it: nothing would be sent, still nothing shown
            continue
        assert hidden(sent.get("password"), shown)
        if ":" not in userinfo:  # a bare user part: redis-py sends it, it may be the password
            assert hidden(sent.get("username"), shown)


def test_urls_inside_a_message_are_redacted() -> None:
    message = (
        "can't connect to 'redis://:hunter2pw@cache:6379/0' nor "
        "postgresql://app:hunter2pw@db/reelbot (refused)"
    )
    shown = redact_text(message)
    assert "hunter2pw" not in shown
    assert "redis://:***@cache:6379/0" in shown and "postgresql://app:***@db/reelbot" in shown


def test_a_password_with_an_at_before_its_slash_is_hidden() -> None:
    """Found by the property test above: the `@` before the `/` is not the end of it."""
    assert redact_url("redis://:@/000000@cache:6379/0") == "redis://:***@cache:6379/0"
