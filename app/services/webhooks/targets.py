"""Where a webhook may be delivered: the SSRF rules, checked when an endpoint is created and again on every
connection (DNS can change between the two, so the check that counts is the one at connect time).

Only `https` (and `http` with WEBHOOK_ALLOW_HTTP=1); the host must resolve, and to public addresses only:
loopback, private (RFC 1918, unique local), link-local (169.254.0.0/16 holds the cloud metadata
services), carrier-grade NAT, multicast, reserved, documentation and unspecified addresses are refused,
an IPv4-mapped IPv6 address by its IPv4 address, unless WEBHOOK_ALLOW_PRIVATE_NETWORKS=1. Redirects are
never followed (a 3xx is a failed attempt), so a public host cannot bounce a delivery inward.

`GuardedTransport` resolves the host itself, checks every address and connects to a checked address (TLS
still verifies the certificate against the host name), so a name that resolved to a public address at
the check and to 127.0.0.1 a moment later (DNS rebinding) is still refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)
"""Cloud metadata services (AWS/GCP/Azure, AWS over IPv6, Alibaba): refused even with private networks allowed."""


class TargetRefused(ValueError):
    """A URL or an address webhooks may not be delivered to; the message says why, for the operator."""


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    allow_http: bool = False
    allow_private_networks: bool = False

    def check_url(self, url: str) -> SplitResult:
        """The URL, split, when its form is acceptable (scheme, host, no credentials); TargetRefused otherwise."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise TargetRefused("is not a valid URL") from None
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes:
            allowed = "https or http" if self.allow_http else "https (http only with WEBHOOK_ALLOW_HTTP=1)"
            raise TargetRefused(f"must be an {allowed} URL")
        if not parts.hostname:
            raise TargetRefused("has no host")
        if parts.username or parts.password:
            raise TargetRefused("must not carry credentials (user:password@)")
        if port == 0:
            raise TargetRefused("has port 0")
        return parts

    def check_address(self, address: IPAddress, host: str) -> None:
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        effective: IPAddress = mapped or address
        if effective in METADATA_ADDRESSES:
            raise TargetRefused(f"host {host} resolves to a metadata address ({effective})")
        if self.allow_private_networks:
            return
        if not effective.is_global or effective.is_multicast:
            raise TargetRefused(
                f"host {host} resolves to a loopback, private, link-local or reserved address ({effective}); "
                "set WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 to allow it"
            )

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` resolves to, each checked; TargetRefused when one is not allowed or none exists."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            self.check_address(literal, host)
            return [literal]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise TargetRefused(f"host {host} does not resolve") from None
        addresses = _unique(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos)
        if not addresses:
            raise TargetRefused(f"host {host} does not resolve")
        for address in addresses:  # every one: a client may connect to any of them
            self.check_address(address, host)
        return addresses

    async def check(self, url: str) -> None:
        parts = self.check_url(url)
        assert parts.hostname is not None
        await self.resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def _unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    seen: list[IPAddress] = []
    for address in addresses:
        if address not in seen:
            seen.append(address)
    return seen


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy allows, resolved here, at connect time."""

    def __init__(self, policy: TargetPolicy) -> None:
        self._policy = policy
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._policy.resolve(host, port)
        except TargetRefused as refused:
            raise httpcore.ConnectError(f"refused: {refused}") from None
        problem: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                problem = error
        assert problem is not None
        raise problem

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused: webhooks are not delivered to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the SSRF rules at connect time; no proxies from the environment."""

    def __init__(self, policy: TargetPolicy, *, max_connections: int = 100) -> None:
        context = ssl.create_default_context()
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        super().__init__(verify=context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy),
        )
