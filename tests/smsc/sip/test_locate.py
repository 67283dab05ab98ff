"""RFC 3263 §4.1-4.2 target selection and the RFC 2782 SRV order (pure)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.sip.constants import Transport
from smsc.sip.headers import parse_uri
from smsc.sip.locate import (
    AddressLookup,
    Direct,
    NextHopUnresolved,
    Plan,
    SrvLookup,
    SrvRecord,
    Target,
    Unresolved,
    order_srv,
    plan,
)

UDP, TCP = Transport.UDP, Transport.TCP
HOST = "scscf.example.net"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        # §4.2: a numeric IP address is the target, no lookup
        ("sip:10.0.0.1", Direct((Target("10.0.0.1", 5060, UDP),))),
        ("sip:10.0.0.1:5070", Direct((Target("10.0.0.1", 5070, UDP),))),
        ("sip:[2001:db8::1]:5070", Direct((Target("2001:db8::1", 5070, UDP),))),
        ("sip:[2001:db8::1];transport=tcp", Direct((Target("2001:db8::1", 5060, TCP),))),
        ("sips:10.0.0.1", Direct((Target("10.0.0.1", 5061, TCP),))),
        # RFC 6761 §6.3: localhost is the loopback address
        ("sip:localhost:5080", Direct((Target("127.0.0.1", 5080, UDP),))),
        # §4.2: a port given: A/AAAA only
        ("sip:scscf.example.net:5080", AddressLookup(HOST, 5080, UDP)),
        ("sip:SCSCF.Example.NET:5080;transport=TCP", AddressLookup(HOST, 5080, TCP)),
        # §4.2: no port: SRV for the transport, then A/AAAA on the default port
        ("sip:scscf.example.net", SrvLookup("_sip._udp." + HOST, HOST, UDP, 5060)),
        ("sip:scscf.example.net;transport=tcp", SrvLookup("_sip._tcp." + HOST, HOST, TCP, 5060)),
        ("sips:scscf.example.net", SrvLookup("_sips._tcp." + HOST, HOST, TCP, 5061)),
        ("sip:scscf.example.net;transport=tls", SrvLookup("_sips._tcp." + HOST, HOST, TCP, 5061)),
        ("sip:smsc@scscf.example.net;lr", SrvLookup("_sip._udp." + HOST, HOST, UDP, 5060)),
    ],
)  # fmt: skip
def test_what_is_looked_up(uri: str, expected: Plan) -> None:
    assert plan(parse_uri(uri)) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "tel:+491710000001",
        "sip:scscf.example.net;transport=sctp",
        "sips:scscf.example.net;transport=udp",
        "mailto:a@b.c",
    ],
)
def test_unusable_uris_are_typed_errors(uri: str) -> None:
    with pytest.raises(NextHopUnresolved) as caught:
        plan(parse_uri(uri))
    assert caught.value.reason is Unresolved.UNUSABLE_URI


def test_the_error_names_the_cause_then_the_name() -> None:
    error = NextHopUnresolved("scscf.example.net", Unresolved.NXDOMAIN)
    assert str(error) == "NXDOMAIN scscf.example.net"
    assert (error.name, error.reason) == ("scscf.example.net", Unresolved.NXDOMAIN)


def srv(priority: int, weight: int, target: str, port: int = 5060) -> SrvRecord:
    return SrvRecord(priority, weight, port, target)


def test_lower_priority_values_come_first() -> None:
    records = [srv(20, 5, "c"), srv(10, 0, "a"), srv(30, 100, "d"), srv(10, 0, "b")]
    ordered = order_srv(records, random.Random(1))
    assert [r.priority for r in ordered] == [10, 10, 20, 30]
    assert {r.target for r in ordered[:2]} == {"a", "b"}


def test_the_dot_target_is_left_out_and_alone_means_not_available() -> None:
    assert order_srv([srv(0, 0, ".")], random.Random(1)) == []
    assert [r.target for r in order_srv([srv(0, 0, "."), srv(1, 0, "a")], random.Random(1))] == [
        "a"
    ]


def test_the_order_is_the_rng_s() -> None:
    records = [srv(10, 60, "a"), srv(10, 30, "b"), srv(10, 10, "c")]
    first = order_srv(records, random.Random(7))
    assert order_srv(records, random.Random(7)) == first


def test_weights_share_the_first_place_in_proportion() -> None:
    rng = random.Random(2782)
    records = [srv(10, 60, "a"), srv(10, 30, "b"), srv(10, 10, "c"), srv(10, 0, "z")]
    firsts = Counter(order_srv(records, rng)[0].target for _ in range(20_000))
    share = {k: v / 20_000 for k, v in firsts.items()}
    assert share["a"] == pytest.approx(60 / 101, abs=0.02)
    assert share["b"] == pytest.approx(30 / 101, abs=0.02)
    assert share["c"] == pytest.approx(10 / 101, abs=0.015)
    assert 0 < share["z"] < 0.02  # weight 0: a small chance (RFC 2782)


def test_all_zero_weights_share_alike() -> None:
    rng = random.Random(5)
    records = [srv(1, 0, "a"), srv(1, 0, "b")]
    firsts = Counter(order_srv(records, rng)[0].target for _ in range(4_000))
    assert firsts["a"] / 4_000 == pytest.approx(0.5, abs=0.05)


records_strategy = st.lists(
    st.builds(
        SrvRecord,
        st.integers(0, 3),
        st.integers(0, 100),
        st.integers(1, 65535),
        st.sampled_from(["a.example", "b.example", "c.example", "d.example", "."]),
    ),
    max_size=12,
)


@given(records_strategy, st.integers(0, 2**32))
def test_the_order_is_a_permutation_by_priority(records: list[SrvRecord], seed: int) -> None:
    ordered = order_srv(records, random.Random(seed))
    assert Counter(ordered) == Counter(r for r in records if r.target != ".")
    priorities = [r.priority for r in ordered]
    assert priorities == sorted(priorities)
