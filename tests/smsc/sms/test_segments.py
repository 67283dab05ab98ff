"""TS 23.040 §9.2.3.24.1 segmentation and reassembly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.sms.constants import Alphabet, NationalLanguage
from smsc.sms.errors import EncodeError
from smsc.sms.segments import Reassembler, SegmentPlan, segment_text
from smsc.sms.udh import Concatenation
from smsc.sms.user_data import decode_user_data

TURKISH = NationalLanguage.TURKISH


def texts(plan: SegmentPlan) -> list[str]:
    """The text of every segment."""
    return [segment.text for segment in plan.segments]


def check_plan(plan: SegmentPlan, text: str, reference: int = 0, bits: int = 8) -> None:
    """Invariants every plan must hold."""
    assert "".join(texts(plan)) == text
    total = len(plan.segments)
    for sequence, segment in enumerate(plan.segments, 1):
        header = segment.user_data.header
        assert len(segment.ud) <= 140
        limit = 160 if plan.alphabet is Alphabet.GSM7 else 140
        assert segment.udl <= limit
        decoded = decode_user_data(segment.udl, segment.ud, plan.alphabet, header is not None)
        assert decoded == segment.user_data
        assert decoded.text == segment.text
        concat = None if header is None else header.concatenation
        if total == 1:
            assert concat is None
        else:
            assert concat == Concatenation(reference, total, sequence, bits)
        if header is not None:
            assert header.locking_shift == plan.locking_shift
            assert header.single_shift == plan.single_shift


def ucs2_count(text: str, bits: int = 8) -> int:
    """Independent count of the UCS2 plan."""
    units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    if sum(units) <= 70:
        return 1
    capacity = 67 if bits == 8 else 66
    count, used = 1, 0
    for unit in units:
        if used + unit > capacity:
            count, used = count + 1, 0
        used += unit
    return count


def test_160_a_one_segment() -> None:
    plan = segment_text("a" * 160)
    assert plan.alphabet is Alphabet.GSM7
    assert len(plan.segments) == 1
    segment = plan.segments[0]
    assert (segment.udl, len(segment.ud), segment.user_data.header) == (160, 140, None)
    check_plan(plan, "a" * 160)


def test_161_a_two_segments() -> None:
    plan = segment_text("a" * 161, reference=42)
    assert [len(t) for t in texts(plan)] == [153, 8]
    assert plan.segments[0].udl == 160
    assert plan.segments[0].ud[:6] == bytes.fromhex("0500032a0201")
    check_plan(plan, "a" * 161, 42)


def test_16bit_reference() -> None:
    plan = segment_text("a" * 161, reference=0x1234, reference_bits=16)
    assert [len(t) for t in texts(plan)] == [152, 9]
    assert plan.segments[1].ud[:7] == bytes.fromhex("06080412340202")
    check_plan(plan, "a" * 161, 0x1234, 16)


def test_ucs2_70_and_71() -> None:
    plan = segment_text("あ" * 70)
    assert plan.alphabet is Alphabet.UCS2
    assert len(plan.segments) == 1
    assert plan.segments[0].udl == 140
    plan = segment_text("あ" * 71)
    assert [len(t) for t in texts(plan)] == [67, 4]
    check_plan(plan, "あ" * 71)


def test_escape_not_split() -> None:
    text = "a" * 152 + "€" + "b" * 10
    plan = segment_text(text)
    assert texts(plan) == ["a" * 152, "€" + "b" * 10]
    assert plan.segments[0].udl == 159
    check_plan(plan, text)


def test_surrogate_pair_not_split() -> None:
    text = "あ" * 66 + "😀" + "あ" * 5
    plan = segment_text(text)
    assert plan.alphabet is Alphabet.UCS2
    assert texts(plan) == ["あ" * 66, "😀" + "あ" * 5]
    check_plan(plan, text)


def test_empty_text() -> None:
    plan = segment_text("")
    assert plan.alphabet is Alphabet.GSM7
    assert len(plan.segments) == 1
    segment = plan.segments[0]
    assert (segment.text, segment.udl, segment.ud, segment.user_data.header) == ("", 0, b"", None)


def test_turkish_single_shift_preferred() -> None:
    plan = segment_text("şişe")
    assert plan.alphabet is Alphabet.GSM7
    assert (plan.single_shift, plan.locking_shift) == (TURKISH, None)
    assert plan.segments[0].ud[:4] == bytes.fromhex("03240101")
    check_plan(plan, "şişe")


def test_turkish_beats_ucs2() -> None:
    text = (
        "Merhaba, bugün İstanbul'da hava çok güzel. Şimdi dağa çıkıyoruz, "
        "görüşürüz yarın sabah erkenden!"
    )
    assert len(text) > 70
    plan = segment_text(text)
    assert plan.alphabet is Alphabet.GSM7
    assert TURKISH in (plan.single_shift, plan.locking_shift)
    assert len(plan.segments) == 1
    check_plan(plan, text)
    assert segment_text(text, languages=()).alphabet is Alphabet.UCS2


def test_turkish_locking_when_fewer_segments() -> None:
    text = "ş" * 80
    plan = segment_text(text)
    assert plan.alphabet is Alphabet.GSM7
    assert plan.locking_shift is TURKISH
    assert len(plan.segments) == 1
    check_plan(plan, text)


def test_max_segments() -> None:
    assert len(segment_text("a" * 306, max_segments=2).segments) == 2
    with pytest.raises(EncodeError):
        segment_text("a" * 307, max_segments=2)
    with pytest.raises(EncodeError):
        segment_text("a", max_segments=256)


@pytest.mark.parametrize(("reference", "bits"), [(256, 8), (-1, 8), (65536, 16), (0, 12)])
def test_bad_reference(reference: int, bits: int) -> None:
    with pytest.raises(EncodeError):
        segment_text("a", reference=reference, reference_bits=bits)


@settings(max_examples=150, deadline=None)
@given(
    st.text(max_size=500),
    st.integers(0, 255),
    st.sampled_from([8, 16]),
)
def test_segment_any_text(text: str, reference: int, bits: int) -> None:
    plan = segment_text(text, reference=reference, reference_bits=bits)
    check_plan(plan, text, reference, bits)
    assert len(plan.segments) <= ucs2_count(text, bits)


gsm_text = st.text(
    alphabet=st.sampled_from(
        list("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !#%&()*+-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà€{}[]~|^\\şğİıç")
    ),
    max_size=700,
)


@settings(max_examples=150, deadline=None)
@given(gsm_text)
def test_segment_gsm_like_text(text: str) -> None:
    plan = segment_text(text)
    check_plan(plan, text)
    assert len(plan.segments) <= ucs2_count(text)


def test_reassemble_out_of_order_and_duplicates() -> None:
    r: Reassembler[str] = Reassembler()
    assert r.add("A", Concatenation(5, 3, 3, 8), "c", 0.0) is None
    assert r.add("A", Concatenation(5, 3, 1, 8), "a", 1.0) is None
    assert r.add("A", Concatenation(5, 3, 1, 8), "dup", 2.0) is None
    assert len(r) == 1
    assert r.add("A", Concatenation(5, 3, 2, 8), "b", 3.0) == ("a", "b", "c")
    assert len(r) == 0
    assert r.add("A", Concatenation(5, 3, 2, 8), "b2", 4.0) is None
    assert len(r) == 1


def test_reassemble_single_part() -> None:
    r: Reassembler[int] = Reassembler()
    assert r.add("A", Concatenation(1, 1, 1, 8), 7, 0.0) == (7,)
    assert len(r) == 0


def test_reassemble_groups_distinct() -> None:
    r: Reassembler[str] = Reassembler()
    assert r.add("A", Concatenation(5, 2, 1, 8), "a8", 0.0) is None
    assert r.add("A", Concatenation(5, 2, 1, 16), "a16", 0.0) is None
    assert r.add("B", Concatenation(5, 2, 1, 8), "b", 0.0) is None
    assert r.add("A", Concatenation(5, 3, 1, 8), "t3", 0.0) is None
    assert len(r) == 4
    assert r.add("A", Concatenation(5, 2, 2, 16), "z16", 0.0) == ("a16", "z16")
    assert r.add("A", Concatenation(5, 2, 2, 8), "z8", 0.0) == ("a8", "z8")
    assert len(r) == 2


def test_reassemble_expiry_with_gaps() -> None:
    r: Reassembler[str] = Reassembler(timeout_s=10.0)
    r.add("A", Concatenation(1, 3, 2, 8), "b", 0.0)
    r.add("B", Concatenation(1, 2, 1, 8), "x", 5.0)
    assert r.expire(9.0) == []
    assert r.expire(10.0) == [("A", (None, "b", None))]
    assert len(r) == 1
    assert r.expire(15.0) == [("B", ("x", None))]
    assert len(r) == 0


def test_reassemble_max_pending_eviction() -> None:
    r: Reassembler[str] = Reassembler(max_pending=2)
    r.add("A", Concatenation(1, 2, 1, 8), "a", 0.0)
    r.add("B", Concatenation(1, 2, 1, 8), "b", 1.0)
    r.add("C", Concatenation(1, 2, 2, 8), "c", 2.0)
    assert len(r) == 2
    assert r.expire(3.0) == [("A", ("a", None))]
    assert r.expire(3.0) == []
    assert r.add("B", Concatenation(1, 2, 2, 8), "b2", 4.0) == ("b", "b2")
    assert r.add("A", Concatenation(1, 2, 2, 8), "a2", 4.0) is None
    assert len(r) == 2


def test_reassemble_rejects_bad_sequence() -> None:
    r: Reassembler[str] = Reassembler()
    with pytest.raises(ValueError, match="sequence"):
        r.add("A", Concatenation(1, 2, 3, 8), "x", 0.0)


@given(st.permutations(range(1, 8)), st.sets(st.integers(1, 7)))
def test_reassemble_any_order(order: list[int], repeated: set[int]) -> None:
    r: Reassembler[str] = Reassembler()
    results = []
    for sequence in order:
        results.append(r.add("k", Concatenation(9, 7, sequence, 8), str(sequence), 0.0))
        if sequence in repeated and len(r):
            results.append(r.add("k", Concatenation(9, 7, sequence, 8), "dup", 0.0))
    assert results[-1] == tuple("1234567")
    assert all(result is None for result in results[:-1])
    assert len(r) == 0
