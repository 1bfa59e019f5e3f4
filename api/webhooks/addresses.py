"""Where a webhook may be sent: a member's URL must never reach the operator's own network.

A URL is read when it is registered (`check_url`: https, no user:password, a host) and its host
is resolved again at every delivery, each address checked (`refusal`): loopback, private,
link-local (the cloud metadata address 169.254.169.254 included), shared (CGNAT), multicast,
reserved and unspecified addresses are refused, IPv6's ULA and link-local too, and IPv4 hidden
inside IPv6 (mapped, NAT64, 6to4) is checked as the IPv4 it is. `CheckedResolver` does this inside
aiohttp's connector and hands it only the addresses it checked, so the connection goes to a
checked address: a DNS answer that changes between the check and the connect (rebinding) has
nothing to change. Redirects are not followed (`allow_redirects=False` where the POST is made).

The operator's `REELBOT_API_WEBHOOK_ALLOW_HTTP` / `_ALLOW_PRIVATE` relax the scheme and the
private ranges for local use; unspecified, multicast and reserved addresses stay refused.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

__all__ = [
    "MAX_URL_CHARS",
    "AddressPolicy",
    "AddressRefused",
    "CheckedResolver",
    "check_literal_host",
    "check_url",
    "checked_session",
    "refusal",
    "shown_url",
]

MAX_URL_CHARS = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 inside IPv6 (RFC 6052)
_THIS_HOST = ipaddress.ip_network("0.0.0.0/8")


class AddressRefused(Exception):
    """A webhook URL this server won't send to; the message says why, for the member."""


@dataclass(frozen=True)
class AddressPolicy:
    """The operator's settings: http allowed, private addresses allowed (local testing)."""

    allow_http: bool = False
    allow_private: bool = False


def shown_url(url: str | URL) -> str:
    """The URL as it may be shown or logged: no query or fragment (they may carry a secret)."""
    parsed = url if isinstance(url, URL) else URL(url)
    return str(parsed.with_query(None).with_fragment(None).with_user(None))


def check_url(text: str, policy: AddressPolicy) -> URL:
    """The URL, read; `AddressRefused` naming what is wrong and how to fix it."""
    if len(text) > MAX_URL_CHARS:
        raise AddressRefused(f"The webhook URL is longer than {MAX_URL_CHARS} characters.")
    try:
        url = URL(text)
    except ValueError:
        raise AddressRefused("The webhook URL can't be read; give a full https:// URL.") from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if url.scheme not in schemes:
        raise AddressRefused(
            f"The webhook URL must start with https:// (got {url.scheme or 'no scheme'}://)."
        )
    if not url.raw_host:
        raise AddressRefused("The webhook URL has no host; give a full https:// URL.")
    if url.raw_user is not None or url.raw_password is not None:
        raise AddressRefused(
            "The webhook URL may not carry a user name or password; webhooks are signed, so "
            "check the webhook-signature header instead."
        )
    check_literal_host(url.raw_host, policy)
    return url


def check_literal_host(host: str, policy: AddressPolicy) -> None:
    """A host that is an IP address is checked as one (aiohttp never resolves those)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return  # a name: resolved and checked at each delivery
    reason = refusal(address, policy)
    if reason is not None:
        raise AddressRefused(f"The webhook URL's address {address} is {reason}.")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def refusal(address: IPAddress, policy: AddressPolicy) -> str | None:
    """Why a webhook may not go to `address` ("a loopback address"…), or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return refusal(inner, policy)
    if address.is_unspecified or (
        isinstance(address, ipaddress.IPv4Address) and address in _THIS_HOST
    ):
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    kind = _local_kind(address)
    if kind is None and address.is_reserved:
        return "a reserved address"
    if kind is None and address.is_private:
        kind = "a private address"
    if kind is not None:
        return None if policy.allow_private else kind
    if not address.is_global:
        return "not a public address"
    return None


def _local_kind(address: IPAddress) -> str | None:
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a site-local address"
    return None


class CheckedResolver(AbstractResolver):
    """Resolves as aiohttp would, then refuses the host if any of its addresses is refused;
    the connector connects only to the addresses returned here, all of them checked."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        if not results:
            raise AddressRefused(f"The webhook URL's host {host} has no address.")
        for result in results:
            address = ipaddress.ip_address(result["host"].split("%", 1)[0])
            reason = refusal(address, self.policy)
            if reason is not None:
                raise AddressRefused(
                    f"The webhook URL's host {host} resolves to {address}, {reason}."
                )
        return results

    async def close(self) -> None:
        await self.inner.close()


def checked_session(
    policy: AddressPolicy,
    *,
    resolver: AbstractResolver | None = None,
    timeout_s: float = 10.0,
) -> aiohttp.ClientSession:
    """An HTTP client for webhook deliveries: every connection through `CheckedResolver`, no
    DNS cache (each connection resolves and checks again), no proxies from the environment, no
    cookies kept between members' URLs, and a bounded time per attempt."""
    connector = aiohttp.TCPConnector(
        resolver=CheckedResolver(policy, resolver),
        use_dns_cache=False,
        limit=100,
        limit_per_host=4,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_s, connect=min(5.0, timeout_s)),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=False,
    )
