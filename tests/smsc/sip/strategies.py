"""Hypothesis strategies for SIP messages (shared by the SIP tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from smsc.sip.message import SipRequest, SipResponse

_TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
tokens = st.text(alphabet=_TOKEN, min_size=1, max_size=12)
header_names = st.one_of(
    st.sampled_from(
        ["Via", "v", "From", "f", "To", "t", "Call-ID", "i", "CSeq", "Route", "X-Custom", "c"]
    ),
    tokens.filter(lambda n: n.lower() not in ("l", "content-length")),
)
header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="\x7f"),
    max_size=40,
).map(str.strip)
bodies = st.binary(max_size=80)
uris = st.builds(lambda user, host: f"sip:{user}@{host}", tokens, tokens)


def _with_length(
    headers: list[tuple[str, str]], body: bytes, compact: bool
) -> tuple[tuple[str, str], ...]:
    return (*headers, ("l" if compact else "Content-Length", str(len(body))))


requests = st.builds(
    lambda method, uri, headers, body, compact: SipRequest(
        method, uri, _with_length(headers, body, compact), body
    ),
    tokens,
    uris,
    st.lists(st.tuples(header_names, header_values), max_size=12),
    bodies,
    st.booleans(),
)
responses = st.builds(
    lambda status, reason, headers, body, compact: SipResponse(
        status, reason, _with_length(headers, body, compact), body
    ),
    st.integers(100, 699),
    st.text(alphabet=_TOKEN + " ", max_size=20),
    st.lists(st.tuples(header_names, header_values), max_size=12),
    bodies,
    st.booleans(),
)
messages = st.one_of(requests, responses)
