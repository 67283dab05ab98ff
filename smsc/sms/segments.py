"""TS 23.040 §9.2.3.24.1 concatenated SMS: splitting text into the fewest parts, reassembly."""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from smsc.sms.alphabet import (
    encode_gsm7,
    encode_ucs2,
    gsm7_char_septets,
    gsm7_septet_count,
    has_locking_table,
    has_single_table,
)
from smsc.sms.constants import Alphabet, NationalLanguage
from smsc.sms.errors import EncodeError
from smsc.sms.udh import (
    Concatenation,
    InformationElement,
    UserDataHeader,
    concatenation_ie,
    locking_shift_ie,
    single_shift_ie,
)
from smsc.sms.user_data import (
    MAX_OCTETS,
    MAX_SEPTETS,
    UserData,
    encode_user_data,
    gsm7_header_septets,
)

__all__ = ["Reassembler", "Segment", "SegmentPlan", "segment_text"]

T = TypeVar("T")

_DEFAULT = NationalLanguage.DEFAULT
_DEFAULT_LANGUAGES = (
    NationalLanguage.TURKISH,
    NationalLanguage.SPANISH,
    NationalLanguage.PORTUGUESE,
)
_IE_OVERHEAD = 2


@dataclass(frozen=True, slots=True)
class Segment:
    """TS 23.040 §9.2.3.24.1 one part: its text slice, UserData and wire TP-UDL/TP-UD."""

    text: str
    user_data: UserData
    udl: int
    ud: bytes


@dataclass(frozen=True, slots=True)
class SegmentPlan:
    """TS 23.040 §9.2.3.24.1 the chosen alphabet, shift tables and parts."""

    alphabet: Alphabet
    locking_shift: NationalLanguage | None
    single_shift: NationalLanguage | None
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class _Option:
    """One candidate encoding: alphabet plus national shift tables."""

    alphabet: Alphabet
    locking: NationalLanguage | None = None
    single: NationalLanguage | None = None

    @property
    def alphabet_only(self) -> bool:
        """No national shift table."""
        return self.locking is None and self.single is None

    def language_ies(self) -> list[InformationElement]:
        """TS 23.040 §9.2.3.24.15-16 IEs this option needs."""
        ies = []
        if self.single is not None:
            ies.append(single_shift_ie(self.single))
        if self.locking is not None:
            ies.append(locking_shift_ie(self.locking))
        return ies


def _capacity(alphabet: Alphabet, udhl: int | None) -> int:
    """TS 23.040 §9.2.3.24: room for the body in septets (GSM7) or UTF-16 units (UCS2)."""
    if alphabet == Alphabet.GSM7:
        return MAX_SEPTETS if udhl is None else MAX_SEPTETS - gsm7_header_septets(udhl)
    return (MAX_OCTETS if udhl is None else MAX_OCTETS - udhl - 1) // 2


def _gsm7_costs(text: str, option: _Option) -> list[int] | None:
    """TS 23.038 §6.2.1: septets per character, None if any is not encodable."""
    locking = option.locking or _DEFAULT
    single = option.single or _DEFAULT
    count = gsm7_septet_count(text, locking, single)
    if count is None:
        return None
    if count == len(text):
        return [1] * count
    table = {ch: gsm7_char_septets(ch, locking, single) for ch in set(text)}
    return [table[ch] for ch in text]


def _ucs2_costs(text: str) -> list[int]:
    """TS 23.038 §6.2.3: UTF-16 code units per character; a surrogate pair is one char."""
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _split(costs: Sequence[int], capacity: int) -> list[int]:
    """Greedy split (optimal for a fixed capacity); returns the end index of every part."""
    ends: list[int] = []
    used = 0
    for i, cost in enumerate(costs):
        if used + cost > capacity:
            ends.append(i)
            used = 0
        used += cost
    ends.append(len(costs))
    return ends


def _plan_ends(option: _Option, costs: list[int], reference_bits: int) -> list[int]:
    """TS 23.040 §9.2.3.24.1: one part without concat IE if it fits, else concat parts."""
    language_udhl = 3 * len(option.language_ies())
    single_udhl = language_udhl or None
    if sum(costs) <= _capacity(option.alphabet, single_udhl):
        return [len(costs)]
    concat_udhl = _IE_OVERHEAD + reference_bits // 8 + 2 + language_udhl
    return _split(costs, _capacity(option.alphabet, concat_udhl))


def _options(languages: Iterable[NationalLanguage]) -> tuple[_Option, ...]:
    """Preference order: no shift, single shift only, locking shift only, both."""
    return _options_of(tuple(languages))


@functools.lru_cache(maxsize=64)
def _options_of(languages: tuple[NationalLanguage, ...]) -> tuple[_Option, ...]:
    """`_options`, made once per set of languages (every text asks for the same)."""
    langs = [NationalLanguage(lang) for lang in languages if lang != _DEFAULT]
    singles = [_Option(Alphabet.GSM7, None, lang) for lang in langs if has_single_table(lang)]
    lockings = [_Option(Alphabet.GSM7, lang, None) for lang in langs if has_locking_table(lang)]
    both = [
        _Option(Alphabet.GSM7, lang, lang)
        for lang in langs
        if has_locking_table(lang) and has_single_table(lang)
    ]
    return (_Option(Alphabet.GSM7), *singles, *lockings, *both)


def _choose(
    text: str, languages: Iterable[NationalLanguage], reference_bits: int
) -> tuple[_Option, list[int]]:
    """Fewest segments wins; ties go to the earlier option, GSM7 before UCS2."""
    best: tuple[_Option, list[int]] | None = None
    for option in _options(languages):
        costs = _gsm7_costs(text, option)
        if costs is None:
            continue
        ends = _plan_ends(option, costs, reference_bits)
        if best is None or len(ends) < len(best[1]):
            best = (option, ends)
            if len(ends) == 1 or (option.alphabet_only and sum(costs) == len(costs)):
                return best  # no escapes: no shift table or UCS2 can do better
    ucs2 = _Option(Alphabet.UCS2)
    ends = _plan_ends(ucs2, _ucs2_costs(text), reference_bits)
    if best is None or len(ends) < len(best[1]):
        best = (ucs2, ends)
    return best


def _body(option: _Option, text: str) -> bytes:
    """TS 23.038 §6.2: the body septets or UCS2 octets of one part."""
    if option.alphabet == Alphabet.UCS2:
        return encode_ucs2(text)
    return encode_gsm7(text, option.locking or _DEFAULT, option.single or _DEFAULT)


def _segment(option: _Option, text: str, concat: InformationElement | None) -> Segment:
    """TS 23.040 §9.2.3.24: one part with its header and wire TP-UDL/TP-UD."""
    elements = option.language_ies()
    if concat is not None:
        elements.insert(0, concat)
    header = UserDataHeader(tuple(elements)) if elements else None
    user_data = UserData(header, _body(option, text), text)
    udl, ud = encode_user_data(user_data, option.alphabet)
    return Segment(text, user_data, udl, ud)


def segment_text(
    text: str,
    *,
    reference: int = 0,
    reference_bits: int = 8,
    languages: Iterable[NationalLanguage] = _DEFAULT_LANGUAGES,
    max_segments: int = 255,
) -> SegmentPlan:
    """TS 23.040 §9.2.3.24.1: split text into the fewest parts (GSM7, national shifts, UCS2)."""
    concatenation_ie(reference, 1, 1, reference_bits)
    if not 1 <= max_segments <= 255:
        raise EncodeError(f"max_segments {max_segments} out of range 1..255")
    option, ends = _choose(text, languages, reference_bits)
    total = len(ends)
    if total > max_segments:
        raise EncodeError(f"text needs {total} segments, more than {max_segments}")
    segments = []
    start = 0
    for sequence, end in enumerate(ends, 1):
        concat = (
            None if total == 1 else concatenation_ie(reference, total, sequence, reference_bits)
        )
        segments.append(_segment(option, text[start:end], concat))
        start = end
    return SegmentPlan(option.alphabet, option.locking, option.single, tuple(segments))


@dataclass(slots=True)
class _Group(Generic[T]):
    """Parts of one concatenated message received so far."""

    created: float
    parts: list[T | None]
    received: bytearray
    missing: int


_GroupKey = tuple[Hashable, int, int, int]
_Expired = list[tuple[Hashable, tuple[T | None, ...]]]


class Reassembler(Generic[T]):
    """TS 23.040 §9.2.3.24.1 sans-IO reassembly; `now` must never go backwards."""

    def __init__(self, timeout_s: float = 3600.0, max_pending: int = 10000) -> None:
        """Groups expire timeout_s after their first part; at most max_pending stay pending."""
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._timeout = timeout_s
        self._max_pending = max_pending
        self._groups: dict[_GroupKey, _Group[T]] = {}
        self._evicted: _Expired[T] = []

    def __len__(self) -> int:
        """Number of pending (incomplete, not evicted) groups."""
        return len(self._groups)

    def add(
        self, key: Hashable, concat: Concatenation, part: T, now: float
    ) -> tuple[T, ...] | None:
        """Store a part; all parts in order once complete, else None; a repeat is ignored."""
        total, sequence = concat.total, concat.sequence
        if not 1 <= sequence <= total:
            raise ValueError(f"concatenation sequence {sequence} outside 1..{total}")
        if total == 1:
            return (part,)
        group_key = (key, concat.reference, concat.reference_bits, total)
        group = self._groups.get(group_key)
        if group is None:
            group = _Group(now, [None] * total, bytearray(total), total)
            self._groups[group_key] = group
            self._evict()
        index = sequence - 1
        if group.received[index]:
            return None
        group.received[index] = 1
        group.parts[index] = part
        group.missing -= 1
        if group.missing:
            return None
        del self._groups[group_key]
        return cast("tuple[T, ...]", tuple(group.parts))

    def _evict(self) -> None:
        """Over max_pending, the oldest group is evicted; the next expire() returns it."""
        while len(self._groups) > self._max_pending:
            oldest = next(iter(self._groups))
            group = self._groups.pop(oldest)
            self._evicted.append((oldest[0], tuple(group.parts)))
        if len(self._evicted) > self._max_pending:
            del self._evicted[: len(self._evicted) - self._max_pending]

    def expire(self, now: float) -> _Expired[T]:
        """Evicted groups, then groups whose first part is timeout_s old, gaps as None."""
        expired, self._evicted = self._evicted, []
        deadline = now - self._timeout
        while self._groups:
            oldest = next(iter(self._groups))
            group = self._groups[oldest]
            if group.created > deadline:
                break
            del self._groups[oldest]
            expired.append((oldest[0], tuple(group.parts)))
        return expired
