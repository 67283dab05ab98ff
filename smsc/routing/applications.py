"""routing.applications: which application, if any, an MO SMS's destination number belongs to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from smsc.routing.numbering import Number, NumberKind

if TYPE_CHECKING:
    from smsc.settings import ApplicationRoute

_Key = tuple[NumberKind, str]


def _entry_key(entry: str) -> tuple[_Key, bool]:
    """A `numbers` entry ('4444', '+4915112345', '+49151*', '44*') as (kind, digits) and
    whether it is a prefix."""
    body = entry.removesuffix("*")
    is_prefix = body != entry
    if body.startswith("+"):
        return (NumberKind.E164, body[1:]), is_prefix
    return (NumberKind.SHORT_CODE, body), is_prefix


class ApplicationTable:
    """The `numbers` of every application route, indexed for one lookup per number.

    An entry with '+' matches E.164 numbers only, one without matches short codes only. An
    exact entry beats every prefix; among prefixes the longest wins; a prefix also matches the
    number equal to it ('+49151*' matches +49151). A number listed twice (the settings refuse
    that) belongs to the first route that lists it.
    """

    __slots__ = ("_exact", "_prefix_lengths", "_prefixes")

    def __init__(self, routes: Sequence[ApplicationRoute]) -> None:
        self._exact: dict[_Key, ApplicationRoute] = {}
        self._prefixes: dict[_Key, ApplicationRoute] = {}
        for route in routes:
            for entry in route.numbers:
                key, is_prefix = _entry_key(entry)
                (self._prefixes if is_prefix else self._exact).setdefault(key, route)
        self._prefix_lengths: dict[NumberKind, tuple[int, ...]] = {
            kind: tuple(
                sorted({len(digits) for k, digits in self._prefixes if k is kind}, reverse=True)
            )
            for kind in NumberKind
        }

    def match(self, number: Number) -> ApplicationRoute | None:
        """The route of the number: its exact entry, else its longest prefix; None if neither."""
        digits = number.digits
        route = self._exact.get((number.kind, digits))
        if route is not None:
            return route
        for length in self._prefix_lengths[number.kind]:
            if length <= len(digits):
                route = self._prefixes.get((number.kind, digits[:length]))
                if route is not None:
                    return route
        return None
