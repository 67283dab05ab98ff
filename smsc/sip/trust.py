"""Which source addresses may send us requests (`sip.trusted_peers`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedPeers:
    """Membership of a source address in the trusted networks, cached per address."""

    def __init__(self, networks: Iterable[str], cache_size: int = 10_000) -> None:
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(network, strict=False) for network in networks
        )
        self._cache: dict[str, bool] = {}
        self._cache_size = cache_size

    def __call__(self, host: str) -> bool:
        known = self._cache.get(host)
        if known is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                known = False
            else:
                known = any(address in network for network in self.networks)
            if len(self._cache) < self._cache_size:
                self._cache[host] = known
        return known
