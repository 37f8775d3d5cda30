"""Where the server may connect for a tenant: public addresses, and internal ones only when a setting names them.

Tenants choose webhook URLs and camera stream URLs, so without this a tenant makes the server connect
to its own loopback, the cloud metadata service (169.254.169.254) or anything on the plant network
(SSRF, issue 20). Names are resolved when the connection is made and it goes to the address that was
checked, so a name that resolves to something else later (DNS rebinding) gains nothing. Numeric tricks (2130706433, 0x7f000001,
[::ffff:127.0.0.1]) are parsed the way the resolver parses them, then checked like any address.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from services.core.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class EgressRefused(InvalidRequest):
    """The target is an address the server does not connect to; the code names what it was for
    (webhook_target_refused, source_target_refused)."""

    code = "webhook_target_refused"


def safe_url(url: str) -> str:
    """The URL without credentials, query or fragment: what may appear in a log line."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


class EgressPolicy:
    """allow: CIDRs ("10.20.0.0/16", "127.0.0.1/32") and host names that may be internal; purpose and
    setting name the connections it guards and the setting that lists them, for the errors."""

    def __init__(self, allow: list[str], purpose: str = "webhook", setting: str = "GOLDENSHOT_SERVER_WEBHOOK_ALLOW") -> None:
        self.purpose = purpose
        self.setting = setting
        self.networks = []
        self.hosts = set()
        for entry in allow:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.lower().rstrip("."))

    def allowed(self, address: IPAddress) -> bool:
        """Globally routable, or inside an allowed network; an IPv4-mapped IPv6 address is its IPv4 one."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_global or any(address in network for network in self.networks)

    def check_url(self, url: str) -> None:
        """At set time: refuse a literal address or a local name outside the allow-list (names are
        checked again, resolved, at each delivery)."""
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
        if host in self.hosts:
            return
        if host in LOCAL_NAMES or host.endswith(".localhost"):
            raise self._refused(f"host '{host}' is local", allowable=True)
        address = _numeric(host)
        if address is not None and not self.allowed(address):
            raise self._refused(f"address {address} is internal", allowable=True)

    def resolve(self, host: str, port: int) -> str:
        """At delivery time: an address of `host` to connect to, every one of them allowed (a name with
        one internal address is refused, whatever the others are)."""
        name = host.lower().rstrip(".")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise self._refused(f"host '{name}' does not resolve: {exc}", allowable=False) from None
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
        if name not in self.hosts:
            refused = [a for a in addresses if not self.allowed(a)]
            if refused:
                raise self._refused(f"host '{name}' resolves to internal address {refused[0]}", allowable=True)
        return str(addresses[0])

    def _refused(self, cause: str, allowable: bool) -> EgressRefused:
        hint = f"; name it in {self.setting} to allow it" if allowable else ""
        return EgressRefused(f"{self.purpose} {cause}{hint}", code=f"{self.purpose}_target_refused")


def pinned(url: str, address: str) -> str:
    """The URL with its host replaced by the address that was checked (credentials and port kept), so
    the connection cannot go anywhere a second lookup would lead."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def _numeric(host: str) -> IPAddress | None:
    """The address a numeric host means to the resolver (any form inet_aton accepts), else None."""
    try:
        info = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        return None
    return ipaddress.ip_address(info[0][4][0].split("%", 1)[0])
