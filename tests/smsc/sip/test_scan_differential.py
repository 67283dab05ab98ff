"""The C scanners (smsc.sip._scan) against the Python reference (smsc.sip.scan), output for
output: the same None or the same NamedTuple, field by field and type by type.

Inputs: the repository's samples and the load generator's MESSAGE, the byte and line mutations
of tests/fuzz_sip_lanes.py, requests and responses generated around the common shape, random
bytes, and every truncation of each; then odd inputs for crashes and reference counts.
"""

from __future__ import annotations

import gc
import random
import sys
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsc.sip.native import Scanners, python_scanners
from tests.fuzz_sip_lanes import LOADGEN_MESSAGE, mutate
from tests.smsc.sip.samples import MO_MESSAGE, MO_MESSAGE_COMPACT, OK_200, RP_DATA_BODY

LIMITS = (0, 3, 12, 70, 128, 2**80, -1)
OK = OK_200.format(via="10.10.1.5:5060;branch=z9hG4bK-74bf9;rport=5060", call_id="a@b").encode()
SAMPLES = (MO_MESSAGE, MO_MESSAGE_COMPACT, LOADGEN_MESSAGE, OK)


def same(one: object, other: object) -> bool:
    """Equal, and of the same type all the way down (True == 1, but not here)."""
    if type(one) is not type(other):
        return False
    if isinstance(one, tuple | list):
        assert isinstance(other, tuple | list)
        return len(one) == len(other) and all(map(same, one, other))
    return one == other


def agree(native: Scanners, data: bytes, max_headers: int = 70) -> None:
    """Both scanners of both implementations say the same of data."""
    for name in ("scan_message", "scan_response"):
        expected = getattr(python_scanners, name)(data, max_headers)
        got = getattr(native, name)(data, max_headers)
        assert same(got, expected), (name, data, max_headers, got, expected)


def agree_truncated(native: Scanners, data: bytes, max_headers: int = 70) -> None:
    """agree() on data cut at every length."""
    for end in range(len(data) + 1):
        agree(native, data[:end], max_headers)


@pytest.mark.parametrize("max_headers", LIMITS)
@pytest.mark.parametrize("data", SAMPLES, ids=["mo", "mo-compact", "loadgen", "200"])
def test_samples_cut_at_every_length(native: Scanners, data: bytes, max_headers: int) -> None:
    agree_truncated(native, data, max_headers)


def test_the_samples_are_read_the_same(native: Scanners) -> None:
    for data in (MO_MESSAGE, LOADGEN_MESSAGE):
        scanned = native.scan_message(data, 70)
        assert scanned is not None and same(scanned, python_scanners.scan_message(data, 70))
    assert native.scan_response(OK, 70) == (200, "z9hG4bK-74bf9", "MESSAGE")


@pytest.mark.parametrize("seed", range(4))
def test_mutations_of_the_lanes_fuzz(native: Scanners, seed: int) -> None:
    """tests/fuzz_sip_lanes.py's mutations, each cut at every length."""
    rng = random.Random(seed)
    for i in range(300):
        data = mutate(rng, SAMPLES[i % len(SAMPLES)])
        agree_truncated(native, data, LIMITS[i % len(LIMITS)])


# -- generated around the common shape -------------------------------------------------------

_ODD = 'aZ09 :;,=<>"@.-_\t\x00\x0b\x0c\x1c\x1f\x7f~['


def _splice(value: str, text: str, at: int) -> str:
    return value[:at] + text + value[at:]


def _values(*usual: str) -> st.SearchStrategy[str]:
    """One of the usual values, sometimes with odd characters spliced in."""
    spliced = st.builds(
        _splice, st.sampled_from(usual), st.text(_ODD, min_size=1, max_size=3), st.integers(0, 60)
    )
    return st.one_of(st.sampled_from(usual), spliced)


_PARAMS = ("branch=z9hG4bKq", "rport", "rport=5060", "received=10.0.0.9", "maddr=10.0.0.2",
           "ttl=1", "x1", "Branch=z9hG4bK2", "12", "", "branch=1", "keep", "branch")  # fmt: skip
_VIAS = (
    "SIP/2.0/UDP 10.10.1.5:5060;branch=z9hG4bK-1a;rport",
    "SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK1a2b3c4d.7.1234;rport",
    "SIP/2.0/UDP Pcscf.Example-1.net;rport=5060;branch=z9hG4bKx8f2a",
    "SIP/2.0/UDP h:65535;branch=z9hG4bK;received=10.0.0.9",
    "SIP/2.0/UDP h:65536;branch=z9hG4bK1",
    "SIP/2.0/UDP h:00080;branch=z9hG4bK1",
    "SIP/2.0/UDP h:;branch=z9hG4bK1",
    "SIP/2.0/UDP h:1:2;branch=z9hG4bK1",
    "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1",
    "SIP/2.0/UDP .-;branch=z9hG4bK1",
    "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1",
    "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.2",
    "SIP/2.0/UDP 10.0.0.1",
)
vias = st.one_of(
    _values(*_VIAS),
    st.builds(
        lambda params, more: "SIP/2.0/UDP 10.0.0.1" + "".join(f";{p}" for p in params) + more,
        st.lists(st.sampled_from(_PARAMS), max_size=6),
        st.integers(0, 40).map(lambda n: "".join(f";p{i}=1" for i in range(n))),
    ),
)
_ASSERTED = (
    "<tel:+491711234567>",
    "<sip:+491711234567@ims.example.net>, <tel:+491711234567>",
    "<sips:alice@example.net>",
    "<sip:ims.example.net>",
    "<sip:alice:secret@example.net>",
    "<sip::secret@example.net>",
    "<sip:@example.net>",
    "<sip:a;b@example.net>",
    "<sip:a@b@c>",
    "<sip:alice@example.net:5060>",
    "<sip:alice@[2001:db8::1]>",
    "<sip:alice@example.net;user=phone>",
    "<sip:alice@example.net?subject=x>",
    "<SIP:alice@example.net>",
    "<tel:+4917;phone-context=x>",
    "<tel:+4917;;>",
    "<tel:>",
    "<urn:service:sos>",
    "<x:>",
    "<:x>",
    "<>",
    "<tel:+49>,",
    '"Alice" <tel:+49>',
    "tel:+49",
)
_EXTRA_NAMES = (
    "Max-Forwards", "Route", "X-Custom", "m", "s", "x", "X-Trail \t", "via", "v", "V", "f", "t",
    "i", "c", "l", "cseq", "CALL-ID", "Via ", " Via", "\tX", "Bad Header", "X\x0b", "",
)  # fmt: skip
_extra = st.tuples(
    st.sampled_from(_EXTRA_NAMES), st.sampled_from((": 1", ":", ": a: b", "", ":x"))
).map("".join)


def _shape(body: bytes) -> dict[str, st.SearchStrategy[str]]:
    """The read headers of a MESSAGE: what each may hold, the usual value first."""
    n = len(body)
    return {
        "Via": vias,
        "From": _values("<sip:+491711234567@ims.example.net>;tag=f1", "<tel:+49>", ""),
        "To": _values("<sip:smsc@ims.example.net>", "<sip:smsc@x>;TAG=1", "<sip:stage@x>", ""),
        "Call-ID": _values("c1@10.10.1.5", "c 1", ""),
        "CSeq": _values(
            "7 MESSAGE", "0000000007 MESSAGE", "2147483647 MESSAGE", "2147483648 MESSAGE",
            "00000000007 MESSAGE", "7  MESSAGE", "7 message", "7MESSAGE", "7 OPTIONS", "7 Mx",
        ),
        "Content-Type": _values("application/vnd.3gpp.sms", "Application/Vnd.3gpp.sms"),
        "Content-Length": st.sampled_from(
            (str(n), f"00{n}", "0" * 5000 + str(n), str(n + 1), f"{n} ", "", "9" * 30, "-1")
        ),
        "P-Asserted-Identity": _values(*_ASSERTED),
        "P-Access-Network-Info": _values("3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=2620112", ""),
    }  # fmt: skip


_USUAL = {
    "Via": "SIP/2.0/UDP 10.10.1.5:5060;branch=z9hG4bK-1a;rport",
    "From": "<sip:+491711234567@ims.example.net>;tag=f1",
    "To": "<sip:smsc@ims.example.net>",
    "Call-ID": "c1@10.10.1.5",
    "CSeq": "7 MESSAGE",
    "P-Asserted-Identity": "<tel:+491711234567>",
    "P-Access-Network-Info": "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=2620112",
    "Content-Type": "application/vnd.3gpp.sms",
}
_FAULTS = ("value", "value", "value", "drop", "repeat", "no colon", "extra", "start", "swap")


@st.composite
def near_shape(draw: st.DrawFn, start: str, starts: st.SearchStrategy[str], body: bytes) -> bytes:
    """The common shape (start line, the usual headers, body) with up to three faults."""
    shape = _shape(body)
    lines = [f"{name}: {value}" for name, value in _USUAL.items()]
    lines += [f"Content-Length: {len(body)}", "Max-Forwards: 70"]
    for _ in range(draw(st.integers(0, 3))):
        fault = draw(st.sampled_from(_FAULTS))
        at = draw(st.integers(0, len(lines) - 1)) if lines else 0
        name = draw(st.sampled_from(tuple(shape)))
        if fault == "value":
            lines.append(f"{name}: {draw(shape[name])}")
            lines = [line for line in lines[:-1] if not line.startswith(f"{name}:")] + lines[-1:]
        elif fault == "drop" and lines:
            del lines[at]
        elif fault == "repeat":
            lines.insert(at, f"{name}: {draw(shape[name])}")
        elif fault == "no colon":
            lines.insert(at, name)
        elif fault == "extra":
            lines.insert(at, draw(_extra))
        elif fault == "start":
            start = draw(starts)
        elif lines:
            lines[0], lines[at] = lines[at], lines[0]
    return ("\r\n".join([start, *lines]) + "\r\n\r\n").encode("latin-1") + body


_bodies = st.one_of(st.just(RP_DATA_BODY), st.binary(max_size=24))
_request_starts = _values(
    "MESSAGE sip:smsc@ims.example.net SIP/2.0",
    "MESSAGE tel:+49 SIP/2.0",
    "MESSAGE SIP/2.0",
    "MESSAGE : SIP/2.0",
    "MESSAGE smsc SIP/2.0",
    "MESSAGE sip:a SIP/2.1",
    "OPTIONS sip:smsc@ims.example.net SIP/2.0",
)
requests = _bodies.flatmap(
    lambda body: near_shape("MESSAGE sip:smsc@ims.example.net SIP/2.0", _request_starts, body)
)
_response_starts = _values(
    "SIP/2.0 200 OK", "SIP/2.0 100 Trying", "SIP/2.0 699 x", "SIP/2.0 700 x", "SIP/2.0 099 x",
    "SIP/2.0 2000 OK", "SIP/2.0 200", "SIP/2.0 20a OK", "SIP/2.0 202 ",
)  # fmt: skip
responses = _bodies.flatmap(lambda body: near_shape("SIP/2.0 200 OK", _response_starts, body))


_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(data=requests, max_headers=st.sampled_from(LIMITS))
def test_generated_requests(native: Scanners, data: bytes, max_headers: int) -> None:
    agree_truncated(native, data, max_headers)


@_SETTINGS
@given(data=responses, max_headers=st.sampled_from(LIMITS))
def test_generated_responses(native: Scanners, data: bytes, max_headers: int) -> None:
    agree_truncated(native, data, max_headers)


@_SETTINGS
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda start, rest: start + rest,
            st.sampled_from((b"MESSAGE ", b"SIP/2.0 ")),
            st.binary(max_size=200),
        ),
    ),
    max_headers=st.sampled_from(LIMITS),
)
def test_random_bytes(native: Scanners, data: bytes, max_headers: int) -> None:
    agree_truncated(native, data, max_headers)


@_SETTINGS
@given(data=st.data())
def test_random_bytes_spliced_into_the_samples(native: Scanners, data: st.DataObject) -> None:
    sample = data.draw(st.sampled_from(SAMPLES))
    at = data.draw(st.integers(0, len(sample)))
    cut = data.draw(st.integers(0, 4))
    inserted = data.draw(st.binary(max_size=6))
    agree_truncated(native, sample[:at] + inserted + sample[at + cut :])


# -- odd inputs ------------------------------------------------------------------------------


def _many_vias(count: int) -> bytes:
    return LOADGEN_MESSAGE.replace(
        b"Max-Forwards",
        b"".join(b"Via: SIP/2.0/UDP 10.0.0.%d\r\n" % i for i in range(count)) + b"Max-Forwards",
    )


ODD_INPUTS = (
    b"",
    b"\r\n\r\n",
    b"MESSAGE ",
    b"\x00" * 64,
    LOADGEN_MESSAGE.replace(b"Call-ID: lg", b"Call-ID: \x00lg"),
    LOADGEN_MESSAGE.replace(b"Via: SIP/2.0/UDP", b"Via: SIP/2.0/UDP\x00"),
    LOADGEN_MESSAGE.replace(b"tel:+49", b"tel:\xc3\xbc49"),
    LOADGEN_MESSAGE.replace(b"Max-Forwards: 70", b"X: " + bytes(range(128, 256))),
    LOADGEN_MESSAGE + bytes(range(256)),
    LOADGEN_MESSAGE.replace(b"Max-Forwards: 70\r\n", b"X-H: y\r\n" * 100_000),
    _many_vias(40),
    LOADGEN_MESSAGE.replace(b"<tel:+491700000007>", b", ".join([b"<tel:+49>"] * 50)),
    LOADGEN_MESSAGE.replace(
        b"<tel:+491700000007>", b", ".join(b"<sip:+%d@h;x>" % i for i in range(30))
    ),
    LOADGEN_MESSAGE.replace(b";rport", b"".join(b";p%d" % i for i in range(5000))),
    LOADGEN_MESSAGE.replace(b";rport", b"".join(b";p%d" % i for i in range(5000)) + b";p7"),
    LOADGEN_MESSAGE.replace(b"Content-Length: 30", b"Content-Length: " + b"0" * 100_000 + b"30"),
    OK.replace(b"Content-Length: 0", b"Content-Length: " + b"0" * 100_000),
    OK.replace(b"Content-Length: 0", b"Content-Length: " + b"1" * 100),
)


@pytest.mark.parametrize("data", ODD_INPUTS, ids=[f"odd{i}" for i in range(len(ODD_INPUTS))])
@pytest.mark.parametrize("max_headers", (*LIMITS, 2**63 - 1, 2**64, -(2**70), True))
def test_odd_inputs(native: Scanners, data: bytes, max_headers: int) -> None:
    agree(native, data, max_headers)


def test_the_lists_that_outgrow_the_stack_are_read(native: Scanners) -> None:
    scanned = native.scan_message(_many_vias(40), 200)
    assert scanned is not None and len(scanned.vias) == 41
    scanned = native.scan_message(ODD_INPUTS[11], 70)
    assert scanned is not None and scanned.asserted == ("tel:+49",) * 50


def test_content_length_of_any_number_of_digits(native: Scanners) -> None:
    """Leading zeros are read, a number too long for C is no length of this message."""
    padded = LOADGEN_MESSAGE.replace(b"Content-Length: 30", b"Content-Length: 000030")
    assert native.scan_message(padded, 70) is not None
    assert native.scan_message(ODD_INPUTS[15], 70) is not None
    too_long = b"Content-Length: 1" + b"0" * 30
    assert native.scan_message(LOADGEN_MESSAGE.replace(b"Content-Length: 30", too_long), 70) is None
    assert native.scan_response(ODD_INPUTS[16], 70) is not None
    assert native.scan_response(ODD_INPUTS[17], 70) is None


def test_arguments_are_checked_like_a_python_function(native: Scanners) -> None:
    assert native.scan_message(data=LOADGEN_MESSAGE, max_headers=70) is not None  # type: ignore[call-arg]
    for call in (
        lambda: native.scan_message("text", 70),  # type: ignore[arg-type]
        lambda: native.scan_message(LOADGEN_MESSAGE, 70.0),  # type: ignore[arg-type]
        lambda: native.scan_response(LOADGEN_MESSAGE),  # type: ignore[call-arg]
        lambda: native.scan_response(LOADGEN_MESSAGE, 70, 1),  # type: ignore[call-arg]
        lambda: native.scan_message(LOADGEN_MESSAGE, 70, data=b""),  # type: ignore[call-arg]
        lambda: native.scan_message(LOADGEN_MESSAGE, limit=70),  # type: ignore[call-arg]
    ):
        with pytest.raises(TypeError):
            call()


def _scan_all(native: Scanners, inputs: tuple[bytes, ...], times: int) -> None:
    for _ in range(times):
        for data in inputs:
            native.scan_message(data, 70)
            native.scan_response(data, 70)


def test_no_reference_is_leaked_or_lost(native: Scanners) -> None:
    """Each object of a result has one owner, the input keeps its count, memory stays flat."""
    inputs = (*SAMPLES, *ODD_INPUTS[:9], *ODD_INPUTS[10:14])
    scanned = native.scan_message(MO_MESSAGE, 70)
    assert scanned is not None
    # Counted outside `assert`, whose rewriting holds references of its own.
    owners = [sys.getrefcount(scanned[i]) for i in (0, 1, 2, 3, 7, 8, 9, 10, 11, 13)]
    owners += [sys.getrefcount(scanned.vias[i]) for i in range(len(scanned.vias))]
    assert owners == [2] * len(owners)  # the tuple or list, and getrefcount's argument
    _scan_all(native, inputs, 1)  # first calls make caches of their own
    before = [sys.getrefcount(x) for x in (*inputs, None, True, False)]
    _scan_all(native, inputs, 50)
    after = [sys.getrefcount(x) for x in (*inputs, None, True, False)]
    assert after == before
    gc.collect()
    tracemalloc.start()
    try:
        _scan_all(native, inputs, 3)
        gc.collect()
        start, _ = tracemalloc.get_traced_memory()
        _scan_all(native, inputs, 300)
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start < 4096, end - start
