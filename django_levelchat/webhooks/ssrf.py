"""SSRF guard: a webhook URL must resolve only to public addresses, checked at creation and at every delivery.

The delivery connects to the address checked here (``Target.ip``), never resolving the name again, so a DNS
answer that changes between the check and the connection (rebinding) cannot reach an internal service.
``LEVELCHAT["WEBHOOK_ALLOW_PRIVATE_URLS"] = True`` lifts the address rule (receivers on the same host or LAN).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django_levelchat.conf import levelchat_settings


class UnsafeURL(ValueError):
    """The URL is malformed, does not resolve, or resolves to an address webhooks may not reach."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    ip: str
    path: str  # path and query, never empty


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, *, allow_private: bool | None = None) -> Target:
    """Resolve ``url`` once and return where to connect; raise ``UnsafeURL`` if it may not be used."""
    if allow_private is None:
        allow_private = bool(levelchat_settings.WEBHOOK_ALLOW_PRIVATE_URLS)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"Malformed URL: {exc}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("Only http:// and https:// URLs with a host name are allowed.")
    if parts.username or parts.password:
        raise UnsafeURL("Credentials in the URL are not allowed.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURL(f"The host {parts.hostname!r} does not resolve.") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeURL(f"The host {parts.hostname!r} does not resolve.")
    if not allow_private and any(_forbidden(a) for a in addresses):
        raise UnsafeURL(
            f"The host {parts.hostname!r} resolves to a loopback, private, link-local or reserved address; "
            "set LEVELCHAT['WEBHOOK_ALLOW_PRIVATE_URLS'] to allow it."
        )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, parts.hostname, port, addresses[0], path)
