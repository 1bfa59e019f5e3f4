"""The README's ten lines that verify a webhook, run as written against a real delivery."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cli.local_redis import LocalRedis
from tests.api.conftest import Api
from tests.api.webhooks_harness import add_api_clip, receiver, token_of, webhook_api
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.timeout(60)]
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_snippet() -> str:
    """The one Python block of the README's Webhooks section (## or ###, wherever it is)."""
    text = README.read_text()
    heading = re.search(r"^(#{2,3}) Webhooks$", text, re.M)
    assert heading is not None, "the README has no Webhooks section"
    rest = text[heading.end() :]
    end = re.search(rf"^#{{2,{len(heading.group(1))}}} ", rest, re.M)
    section = rest[: end.start()] if end else rest
    [code] = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    return code


@pytest.fixture
async def api(redis_server: LocalRedis, redis: object, tmp_path: Path) -> AsyncIterator[Api]:
    data = tmp_path / "data"
    async with webhook_api(redis_server.url, f"sqlite:///{data / 'reelbot.db'}", data) as opened:
        yield opened


async def test_the_readme_snippet_verifies_a_real_delivery(api: Api) -> None:
    code = readme_snippet()
    assert len(code.strip().splitlines()) <= 10
    assert set(re.findall(r"^import (.*)$", code, re.M)[0].split(", ")) <= {
        "base64",
        "hashlib",
        "hmac",
        "time",
    }
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    verify = namespace["verify"]

    _, secret = token_of(api)
    async with receiver() as hook:
        add_api_clip(api, webhook_url=hook.url)
        [delivery] = await eventually(lambda: hook.got, lambda got: len(got) == 1)

    assert verify(secret, delivery.headers, delivery.body) is True
    assert verify(secret, delivery.headers, delivery.body + b" ") is False
    other = "whsec_" + "A" * 32
    assert verify(other, delivery.headers, delivery.body) is False
    stale = {
        **delivery.headers,
        "webhook-timestamp": str(int(delivery.headers["webhook-timestamp"]) - 301),
    }
    assert verify(secret, stale, delivery.body) is False
