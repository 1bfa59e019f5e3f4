"""What an operator reads when the queue's URL is wrong or its server is away: the setting,
what to do, and never the password."""

from __future__ import annotations

import pytest

from core.errors import ConfigError, QueueUnavailable
from intake.submit import connect_queue

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    "url", ["redis://:hunter2pw@cache:63a9/0", "redis://hunter2pw@cache:99999/0", "http://x"]
)
async def test_a_bad_url_names_the_setting_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        await connect_queue(url)
    message = str(caught.value)
    assert "REELBOT_REDIS_URL" in message and "redis://" in message
    assert "hunter2pw" not in message


async def test_an_unreachable_server_is_named_without_its_password() -> None:
    with pytest.raises(QueueUnavailable) as caught:
        await connect_queue("redis://hunter2pw@127.0.0.1:1/0", timeout_s=2)
    message = str(caught.value)
    assert "127.0.0.1:1" in message and "REELBOT_REDIS_URL" in message
    assert "hunter2pw" not in message
