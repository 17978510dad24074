"""The address of the client behind a request, the one thing throttles and log-in lockout key on.

``X-Forwarded-For`` is whatever the client chose to send, unless a proxy we run wrote it. So
the header is read only when the request came from a configured proxy (``TRUSTED_PROXIES``,
addresses or CIDR ranges; empty by default), and then from the right: each hop appends the
address it saw, so the rightmost address that is not one of our proxies is the client. Anything
to its left was written by the client and is never trusted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(entries: Iterable[str]) -> list[IPNetwork]:
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _is_trusted(address, proxies: list[IPNetwork]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_address(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or, behind a trusted proxy, the rightmost untrusted
    address in ``X-Forwarded-For``. Also django-axes' ``AXES_CLIENT_IP_CALLABLE``."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = _networks(settings.TRUSTED_PROXIES)
    if not _is_trusted(_address(remote), proxies):
        return remote
    client = remote
    for hop in reversed(request.headers.get("x-forwarded-for", "").split(",")):
        address = _address(hop)
        if address is None:  # garbage in the chain: stop at the last hop our proxies vouch for
            return client
        client = str(address)
        if not _is_trusted(address, proxies):
            return client
    return client
