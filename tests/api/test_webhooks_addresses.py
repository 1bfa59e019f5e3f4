"""Webhook URLs can't reach the operator's own network: https only, no user:password, and the
host resolved at every delivery with each address checked (loopback, private, link-local and
the metadata address, shared CGNAT, multicast, reserved, IPv6 ULA and link-local, IPv4 inside
IPv6) — the connection made to the address that was checked. Local testing may allow http
and private addresses."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from api.webhooks.addresses import (
    AddressPolicy,
    AddressRefused,
    check_url,
    checked_session,
    refusal,
    shown_url,
)
from api.webhooks.deliver import Deliverer
from cli.local_redis import LocalRedis
from gallery.webhook_outbox import Claimed, Outbox
from tests.api.conftest import Api
from tests.api.webhooks_harness import add_api_clip, receiver, webhook_api
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.timeout(60)]

STRICT = AddressPolicy()
LOCAL_HTTP = AddressPolicy(allow_http=True)  # http, but still no private addresses
LOCAL = AddressPolicy(allow_http=True, allow_private=True)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.0.0.7", "private"),
        ("172.16.4.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("100.64.0.1", "shared"),
        ("100.100.100.200", "shared"),  # another cloud's metadata, inside CGNAT
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fd00:ec2::254", "private"),  # IPv6 ULA (AWS's IPv6 metadata)
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:7", "private"),  # NAT64 of 10.0.0.7
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
    ],
)
def test_addresses_of_the_operators_network_are_refused(address: str, why: str) -> None:
    reason = refusal(ipaddress.ip_address(address), STRICT)
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), STRICT) is None


def test_allowing_private_addresses_still_refuses_the_never_useful_ones() -> None:
    allowed = AddressPolicy(allow_private=True)
    for address in ("127.0.0.1", "10.0.0.7", "169.254.169.254", "fd00::1", "::1"):
        assert refusal(ipaddress.ip_address(address), allowed) is None
    for address in ("0.0.0.0", "224.0.0.1", "240.0.0.1", "ff02::1"):
        assert refusal(ipaddress.ip_address(address), allowed) is not None


@pytest.mark.parametrize(
    ("url", "policy", "said"),
    [
        ("http://example.com/hook", STRICT, "must start with https://"),
        ("ftp://example.com/hook", LOCAL, "must start with https://"),
        ("https://user:pw@example.com/hook", STRICT, "user name or password"),
        ("https:///hook", STRICT, "no host"),
        ("https://169.254.169.254/latest/meta-data", STRICT, "link-local"),
        ("https://[::ffff:10.0.0.1]/hook", STRICT, "private"),
        ("https://127.0.0.1:8080/hook", STRICT, "loopback"),
        ("https://0.0.0.0/hook", LOCAL, "unspecified"),
        ("https://example.com/" + "a" * 2000, STRICT, "longer than 2000"),
    ],
)
def test_urls_are_refused_saying_why(url: str, policy: AddressPolicy, said: str) -> None:
    with pytest.raises(AddressRefused, match=said):
        check_url(url, policy)


def test_acceptable_urls_and_how_they_are_shown() -> None:
    assert str(check_url("https://hooks.example.com/x?sig=1", STRICT)) == (
        "https://hooks.example.com/x?sig=1"
    )
    check_url("http://127.0.0.1:9000/hook", LOCAL)
    assert shown_url("https://hooks.example.com/x?key=s3cret#f") == "https://hooks.example.com/x"


class FakeDns(AbstractResolver):
    """Answers names from a table (the test's DNS), counting the questions."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"{host}: no such name")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.table[host]
        ]

    async def close(self) -> None:
        pass


def claim_for(url: str) -> Claimed:
    return Claimed(
        id="msg_test",
        generation_id="g" * 32,
        target="request",
        url=url,
        event="clip.queued",
        payload='{"type":"clip.queued"}',
        attempts=1,
        created_at=datetime.now(UTC),
        secret=SECRET,
        member_id="discord:1",
    )


async def attempt(url: str, policy: AddressPolicy, dns: FakeDns) -> str | None:
    deliverer = Deliverer(Outbox.__new__(Outbox), policy, redis=None)  # type: ignore[arg-type]
    async with checked_session(policy, resolver=dns, timeout_s=2) as http:
        return await deliverer.attempt(http, claim_for(url))


@pytest.mark.parametrize(
    ("address", "why"),
    [("127.0.0.1", "loopback"), ("169.254.169.254", "link-local"), ("10.0.0.7", "private")],
)
async def test_a_name_resolving_to_a_private_address_is_refused_when_delivering(
    address: str, why: str
) -> None:
    async with receiver() as local:
        dns = FakeDns({"hooks.example": [address]})
        error = await attempt(f"http://hooks.example:{local.port}/hook", LOCAL_HTTP, dns)
        assert error == f"The webhook URL's host hooks.example resolves to {address}, a {why}" + (
            " address (cloud metadata lives there)." if why == "link-local" else " address."
        )
        assert dns.asked == ["hooks.example"] and local.got == []


async def test_one_bad_address_among_good_ones_refuses_the_host() -> None:
    dns = FakeDns({"hooks.example": ["93.184.216.34", "127.0.0.1"]})
    error = await attempt("https://hooks.example/hook", STRICT, dns)
    assert error is not None and "127.0.0.1, a loopback address" in error


async def test_the_connection_goes_to_the_address_checked_and_each_attempt_resolves_again() -> None:
    async with receiver() as local:
        # A name only the checked resolver knows: had aiohttp looked it up again itself, the
        # connection would have failed; it connects to the address the resolver returned.
        dns = FakeDns({"hooks.example": ["127.0.0.1"]})
        url = f"http://hooks.example:{local.port}/hook"
        assert await attempt(url, LOCAL, dns) is None
        assert await attempt(url, LOCAL, dns) is None
        assert dns.asked == ["hooks.example", "hooks.example"]  # no cache between attempts
        assert [d.headers["host"] for d in local.got] == [f"hooks.example:{local.port}"] * 2


async def test_a_literal_private_address_is_refused_without_asking_dns() -> None:
    dns = FakeDns({})
    error = await attempt("http://[::ffff:127.0.0.1]:9/hook", LOCAL_HTTP, dns)
    assert error is not None and "loopback" in error and dns.asked == []


@pytest.fixture
async def strict_api(redis_server: LocalRedis, redis: object, tmp_path: Path) -> AsyncIterator[Api]:
    """The API with http allowed (the receivers here speak it) and private addresses not."""
    data = tmp_path / "data"
    async with webhook_api(
        redis_server.url,
        f"sqlite:///{data / 'reelbot.db'}",
        data,
        api_webhook_allow_private=False,
    ) as api:
        yield api


async def test_the_api_refuses_to_deliver_to_localhost(strict_api: Api) -> None:
    """The system's own DNS: `localhost` is 127.0.0.1 however the URL spells it."""
    async with receiver() as local:
        by_name = add_api_clip(strict_api, webhook_url=f"http://localhost:{local.port}/hook")
        by_address = add_api_clip(strict_api, webhook_url=f"http://127.0.0.1:{local.port}/hook")
        outbox = Outbox(strict_api.ctx.engine)
        for gid in (by_name, by_address):
            [row] = await eventually(
                lambda gid=gid: outbox.deliveries(gid), lambda rows: rows and rows[0].attempts >= 2
            )
            assert "loopback" in (row.last_error or "") and row.delivered_at is None
        assert local.got == []


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.5/hook", "private"),
        ("https://user:pw@hooks.example.com/", "user name or password"),
        ("ftp://hooks.example.com/", "https://"),
    ],
)
async def test_registering_an_endpoint_refuses_a_bad_url(
    strict_api: Api, url: str, said: str
) -> None:
    answer = await strict_api.call("POST", "/v1/webhooks", json_body={"url": url})
    assert answer.status == 422 and answer.content_type == "application/problem+json"
    assert said in answer.detail
    listed = await strict_api.call("GET", "/v1/webhooks")
    assert listed.body == {"data": []}
