"""What an application receives: one JSON document per MO, segments reassembled."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from smsc.routing.numbering import Number, NumberKind
from smsc.service.applications import (
    StoredPart,
    application_job,
    compose_message,
    group_key,
    segment_document,
)
from smsc.service.model import MessageOrigin, NewMessage
from smsc.settings import ApplicationRoute
from smsc.sms.address import Address
from smsc.sms.constants import Alphabet, TypeOfNumber
from smsc.sms.tp import SmsSubmit
from smsc.sms.udh import UserDataHeader, concatenation_ie, ports_ie
from smsc.sms.user_data import UserData, make_user_data

WHEN = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
SHORT = Number("4444", NumberKind.SHORT_CODE)
ROUTE = ApplicationRoute(name="weather", numbers=("4444",), url="http://127.0.0.1:9/in")


def _submit(text: str, header: UserDataHeader | None = None, dcs: int = 0) -> SmsSubmit:
    """GSM 7-bit text, or with DCS 4 the text's octets as 8-bit data."""
    if dcs == 4:
        data = UserData(header, text.encode(), None)
    else:
        data = make_user_data(text, Alphabet.GSM7, header=header)
    return SmsSubmit(1, Address("4444", TypeOfNumber.UNKNOWN), 0, dcs, data)


def _segment(text: str, sequence: int | None = None, total: int = 3) -> bytes:
    header = None if sequence is None else UserDataHeader((concatenation_ie(5, total, sequence),))
    return segment_document(
        application="weather",
        originator="491710000001",
        originator_ton=int(TypeOfNumber.INTERNATIONAL),
        recipient=SHORT,
        submit=_submit(text, header),
        received_at=WHEN,
        roaming_status="home",
        visited_plmn="26201",
    )


def test_a_single_sms_is_posted_as_it_came() -> None:
    body = json.loads(compose_message([StoredPart(7, _segment("WEATHER"))]))
    assert body["id"] == "7"
    assert (body["from"], body["to"], body["text"]) == ("+491710000001", "4444", "WEATHER")
    assert body["concatenation"] is None and body["udh"] is None
    assert body["roaming"] == {"status": "home", "visited_plmn": "26201"}
    assert body["received_at"] == WHEN.isoformat()
    assert [part["id"] for part in body["parts"]] == ["7"]


def test_segments_are_reassembled_in_sequence_order_under_the_first_id() -> None:
    parts = [
        StoredPart(12, _segment("c", 3)),
        StoredPart(10, _segment("a", 1)),
        StoredPart(11, _segment("b", 2)),
    ]
    body = json.loads(compose_message(parts))
    assert body["id"] == "10"
    assert body["text"] == "abc"
    assert body["concatenation"] == {"reference": 5, "total": 3, "received": 3, "complete": True}
    assert [(p["id"], p["sequence"]) for p in body["parts"]] == [("10", 1), ("11", 2), ("12", 3)]
    assert body["parts"][0]["udh"] == "050003050301"


def test_a_missing_segment_is_said_and_a_repeated_one_counts_once() -> None:
    parts = [StoredPart(20, _segment("a", 1)), StoredPart(21, _segment("a", 1))]
    body = json.loads(compose_message(parts))
    assert body["concatenation"]["received"] == 1
    assert body["concatenation"]["complete"] is False
    assert body["text"] == "a"


def test_other_header_elements_stay_in_the_message_udh() -> None:
    header = UserDataHeader((ports_ie(2948, 9200), concatenation_ie(5, 1, 1)))
    document = segment_document(
        application="weather",
        originator="491710000001",
        originator_ton=int(TypeOfNumber.INTERNATIONAL),
        recipient=SHORT,
        submit=_submit("x", header),
        received_at=WHEN,
        roaming_status=None,
        visited_plmn=None,
    )
    body = json.loads(compose_message([StoredPart(1, document)]))
    assert body["udh"] == "0605040b8423f0"  # UDHL 6, IEI 5 (16-bit ports) 2948 <- 9200


def test_binary_data_is_given_in_hex() -> None:
    document = segment_document(
        application="weather",
        originator="MyBank",
        originator_ton=int(TypeOfNumber.ALPHANUMERIC),
        recipient=Number("4915112345", NumberKind.E164),
        submit=_submit("\x01\x02", dcs=4),
        received_at=WHEN,
        roaming_status=None,
        visited_plmn=None,
    )
    body = json.loads(compose_message([StoredPart(3, document)]))
    assert body["from"] == "MyBank" and body["to"] == "+4915112345"
    assert body["text"] is None
    assert body["parts"][0]["data"] == "0102"


@given(st.permutations([1, 2, 3, 4]), st.lists(st.text(max_size=5), min_size=4, max_size=4))
def test_any_arrival_order_gives_the_same_message(order: list[int], texts: list[str]) -> None:
    texts = ["".join(c for c in t if c.isascii() and c.isalnum()) for t in texts]
    parts = [StoredPart(100 + i, _segment(texts[seq - 1], seq, 4)) for i, seq in enumerate(order)]
    body = json.loads(compose_message(parts))
    assert body["text"] == "".join(texts)
    assert body["id"] == "100"


def test_the_job_groups_segments_and_expires_with_the_sms() -> None:
    header = UserDataHeader((concatenation_ie(5, 2, 2),))
    submit = _submit("b", header)
    stored = NewMessage(
        submission_id="491710000001-call-1",
        origin=MessageOrigin.MO,
        originator="491710000001",
        originator_ton=int(TypeOfNumber.INTERNATIONAL),
        recipient="4444",
        submit_tpdu=b"",
        received_at=WHEN,
        expires_at=WHEN + timedelta(days=2),
    )
    job = application_job(ROUTE, stored, submit, SHORT)
    assert (job.group_key, job.group_size, job.group_part) == (group_key(stored, submit), 2, 2)
    assert job.group_key == "491710000001>4444:8/5/2"
    assert job.expires_at == WHEN + timedelta(days=2)
    assert (job.url, job.target, job.timeout_ms) == (ROUTE.url, "weather", 5000)
    single = application_job(ROUTE, stored, _submit("x"), SHORT)
    assert (single.group_key, single.group_size) == (None, 1)
