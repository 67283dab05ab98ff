"""The plain UDP MESSAGE and its responses, read without the general parser (RFC 3261 §7, §20).

An S-CSCF sends the same shape thousands of times a second: canonical header names, one
value per line, a magic-cookie branch. These scanners read that shape in one pass and return
None for anything else (compact or odd-case names, folding, quoting, comma lists, IPv6,
maddr, a To tag, a Content-Length that does not match), which then takes the general path:
what they accept, the general parser reads the same way.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from smsc.sip.constants import DEFAULT_PORT, MAGIC_COOKIE, Address
from smsc.sip.errors import SipParseError
from smsc.sip.headers import parse_uri
from smsc.sip.message import header_key

CONTENT_TYPE_SMS = "application/vnd.3gpp.sms"

_READ = {
    "Via": "via",
    "From": "from",
    "To": "to",
    "Call-ID": "call-id",
    "CSeq": "cseq",
    "Content-Type": "content-type",
    "Content-Length": "content-length",
    "P-Asserted-Identity": "p-asserted-identity",
    "P-Access-Network-Info": "p-access-network-info",
}
_READ_KEYS = frozenset(_READ.values())
_OTHER = frozenset(
    (
        "Max-Forwards",
        "Route",
        "Record-Route",
        "Contact",
        "User-Agent",
        "Server",
        "Allow",
        "Supported",
        "Require",
        "Expires",
        "Date",
        "In-Reply-To",
        "Request-Disposition",
        "Accept-Contact",
        "P-Charging-Vector",
        "P-Charging-Function-Addresses",
        "P-Visited-Network-ID",
        "P-Called-Party-ID",
        "P-Preferred-Identity",
        "Content-Transfer-Encoding",
    )
)
"""Headers the fast case passes over, spelled as S-CSCFs send them (header_key's answer for
them is known: a valid name that is not one of those read)."""


class ScannedMessage(NamedTuple):
    """A MESSAGE request read by `scan_message` (header values stripped, as received)."""

    uri: str
    vias: list[str]
    branch: str
    host: str
    port: int
    rport: bool
    """The top Via has an empty rport parameter (RFC 3581 §4)."""
    has_rport: bool
    from_: str
    to: str
    call_id: str
    cseq: str
    asserted: tuple[str, ...]
    """The URIs of P-Asserted-Identity (each written <uri>), in order."""
    access_network_info: str | None
    body: bytes


class ScannedResponse(NamedTuple):
    """A response read by `scan_response`: enough to find its client transaction."""

    status: int
    branch: str
    method: str


def _fields(head: str) -> tuple[list[str], dict[str, str], list[str]] | None:
    """Header values by key; None when a line is folded, bare CR/LF, or a read header is
    spelled in another way (compact form, other case) or repeated."""
    lines = head.split("\r\n")
    if head.count("\n") != len(lines) - 1 or head.count("\r") != len(lines) - 1:
        return None
    vias: list[str] = []
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            return None  # not a header line: the general parser refuses it
        key = _READ.get(name)
        if key is None:
            if name in _OTHER:
                continue
            other = header_key(name)
            if other is None or other in _READ_KEYS or name[:1] in (" ", "\t"):
                return None
            continue
        value = value.strip()
        if key == "via":
            vias.append(value)
        elif key in fields:
            return None
        else:
            fields[key] = value
    return lines, fields, vias


def _length(text: str) -> int | None:
    """A Content-Length value as a number, None unless digits with at most 10 after any
    leading zeros (no datagram is longer; int() of 4,301 digits and more raises)."""
    if not text.isdigit():
        return None
    if len(text) <= 10:
        return int(text)
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) <= 10 else None


def _cseq_method(cseq: str) -> str | None:
    """RFC 3261 §20.16: the method of "number method" (split at the first space), None
    unless the number is digits below 2**31."""
    number, _, method = cseq.partition(" ")
    if not number.isdigit() or len(number) > 10 or int(number) >= 2**31:
        return None
    return method


def _split_head(data: bytes) -> tuple[str, int] | None:
    """The ASCII header section and where it ends (the empty line), or None."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    try:
        return data[:end].decode("ascii"), end
    except UnicodeDecodeError:
        return None


def scan_message(data: bytes, max_headers: int) -> ScannedMessage | None:
    """A MESSAGE over UDP in the common shape, or None for the general parser."""
    split = _split_head(data)
    if split is None:
        return None
    head, end = split
    read = _fields(head)
    if read is None:
        return None
    lines, fields, vias = read
    if len(lines) - 1 > max_headers or not vias:
        return None
    first = lines[0]
    if not first.startswith("MESSAGE ") or not first.endswith(" SIP/2.0"):
        return None
    uri = first[8:-8]
    if ":" not in uri or " " in uri or "\t" in uri:
        return None
    try:
        from_ = fields["from"]
        to = fields["to"]
        call_id = fields["call-id"]
        cseq = fields["cseq"]
        length = fields["content-length"]
        content_type = fields["content-type"]
    except KeyError:
        return None
    body = data[end + 4 :]
    if content_type != CONTENT_TYPE_SMS or _length(length) != len(body):
        return None
    if _cseq_method(cseq) != "MESSAGE":
        return None
    if not call_id or " " in call_id or not from_ or not to or "tag" in to.lower():
        return None
    for line in vias:
        if "," in line or '"' in line:
            return None
    via = _scan_via(vias[0])
    if via is None:
        return None
    branch, host, port, rport, has_rport = via
    asserted: tuple[str, ...] = ()
    if "p-asserted-identity" in fields:
        uris = []
        for part in fields["p-asserted-identity"].split(","):
            uri_part = part.strip()
            if (
                not uri_part.startswith("<")
                or uri_part.find(">") != len(uri_part) - 1
                or " " in uri_part
                or '"' in uri_part
                or "\t" in uri_part
            ):
                return None
            inner = uri_part[1:-1]
            if inner[:4] == "tel:" and ";" not in inner and len(inner) > 4 and inner[-1] > " ":
                uris.append(inner)  # what parse_uri keeps of a tel URI without parameters
                continue
            try:
                uris.append(parse_uri(inner).raw)
            except SipParseError:
                return None  # the general path answers 400
        asserted = tuple(uris)
    return ScannedMessage(
        uri,
        vias,
        branch,
        host,
        port,
        rport,
        has_rport,
        from_,
        to,
        call_id,
        cseq,
        asserted,
        fields.get("p-access-network-info"),
        body,
    )


_VIA_SHAPE = re.compile(
    r"SIP/2\.0/UDP ([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?((?:;[a-z0-9]+(?:=[!-:<-~]*)?)+)"
)
"""The top Via the fast case reads: UDP, a host name or IPv4 address, an optional port, and
parameters with lower-case names and printable values, without whitespace or quoting."""


def _scan_via(top: str) -> tuple[str, str, int, bool, bool] | None:
    """A top Via over UDP without whitespace, quoting, maddr or odd parameter names:
    (branch, host lower-cased, port, empty rport, any rport), or None."""
    shape = _VIA_SHAPE.fullmatch(top)
    if shape is None:
        return None
    host, port_text, params = shape.groups()
    if not host.strip(".-"):
        return None  # no letter or digit (the pattern stays linear: these checks are here)
    if port_text is None:
        port = DEFAULT_PORT
    else:
        port = int(port_text)
        if port > 65535:
            return None
    branch = None
    rport = has_rport = False
    seen: set[str] = set()
    for param in params[1:].split(";"):
        name, eq, value = param.partition("=")
        if name in seen or name == "maddr" or name.isdigit():
            return None
        seen.add(name)
        if name == "branch":
            branch = value
        elif name == "rport":
            has_rport, rport = True, not eq
    if branch is None or not branch.startswith(MAGIC_COOKIE):
        return None
    return branch, host.lower(), port, rport, has_rport


def response_via(scanned: ScannedMessage, source: Address) -> str:
    """RFC 3261 §18.2.1 received and RFC 3581 §4 rport on the top Via of the response."""
    top = scanned.vias[0]
    ip = source[0]
    if not scanned.rport and scanned.host == ip.lower():
        return top
    head, *params = top.split(";")
    parts = [head]
    for param in params:
        name = param.partition("=")[0]
        if name == "received" or (scanned.rport and name == "rport"):
            continue
        parts.append(param)
    parts.append(f"received={ip}")
    if scanned.rport:
        parts.append(f"rport={source[1]}")
    return ";".join(parts)


def response_destination(scanned: ScannedMessage, source: Address) -> Address:
    """RFC 3261 §18.2.2 over UDP (no maddr here) with RFC 3581 §4."""
    if scanned.has_rport:
        return source
    return source[0], scanned.port


def scan_response(data: bytes, max_headers: int) -> ScannedResponse | None:
    """A response with one Via line in the shape we send, or None for the general parser."""
    split = _split_head(data)
    if split is None:
        return None
    head, end = split
    code = head[8:11]
    if not head.startswith("SIP/2.0 ") or head[11:12] != " " or not code.isdigit():
        return None
    if code[0] not in "123456":
        return None
    read = _fields(head)
    if read is None:
        return None
    lines, fields, vias = read
    if len(lines) - 1 > max_headers or len(vias) != 1 or "," in vias[0] or '"' in vias[0]:
        return None
    cseq = fields.get("cseq")
    if cseq is None or "call-id" not in fields or "from" not in fields or "to" not in fields:
        return None
    method = _cseq_method(cseq)
    if method is None or not method.isalpha():
        return None
    length = fields.get("content-length")
    if length is not None:
        declared = _length(length)
        if declared is None or declared > len(data) - end - 4:
            return None
    via = _scan_via(vias[0])
    if via is None:
        return None
    return ScannedResponse(int(code), via[0], method)
