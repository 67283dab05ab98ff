"""SIP code points and protocol constants (RFC 3261, RFC 3428), named as in the specs."""

from __future__ import annotations

from enum import Enum, IntEnum

SIP_VERSION = "SIP/2.0"
MAGIC_COOKIE = "z9hG4bK"
"""RFC 3261 §8.1.1.7: branch prefix of RFC 3261-compliant transactions."""

DEFAULT_T1 = 0.5
DEFAULT_T2 = 4.0
DEFAULT_T4 = 5.0
"""RFC 3261 §17.1.2.1 / Table 4 timer values, in seconds."""

DEFAULT_MAX_MESSAGE_SIZE = 65536
DEFAULT_MAX_HEADERS = 128
DEFAULT_MAX_FORWARDS = 70
"""RFC 3261 §8.1.1.6."""

UDP_MTU_LIMIT = 1300
"""RFC 3261 §18.1.1: larger requests with an unknown path MTU go over TCP."""

DEFAULT_PORT = 5060
DEFAULT_TLS_PORT = 5061
"""RFC 3261 §18.2.2 / §19.1.2."""


class Transport(Enum):
    """RFC 3261 §18: the transports the endpoint speaks."""

    UDP = "UDP"
    TCP = "TCP"

    def __init__(self, value: str) -> None:
        self.reliable = value != "UDP"
        """RFC 3261 §17.1.2.2: Timers E, J and K depend on this (a plain attribute: it is
        read for every transaction)."""


class Method:
    """RFC 3261 §7.1 / RFC 3428 §4 request methods (extension methods are plain tokens)."""

    MESSAGE = "MESSAGE"
    REGISTER = "REGISTER"
    OPTIONS = "OPTIONS"
    INVITE = "INVITE"
    ACK = "ACK"
    CANCEL = "CANCEL"
    BYE = "BYE"


class StatusCode(IntEnum):
    """RFC 3261 §21 (and RFC 3428 §4, RFC 5626) status codes used by the SMSC."""

    TRYING = 100
    OK = 200
    ACCEPTED = 202
    BAD_REQUEST = 400
    FORBIDDEN = 403
    NOT_FOUND = 404
    METHOD_NOT_ALLOWED = 405
    REQUEST_TIMEOUT = 408
    REQUEST_ENTITY_TOO_LARGE = 413
    UNSUPPORTED_MEDIA_TYPE = 415
    TEMPORARILY_UNAVAILABLE = 480
    CALL_TRANSACTION_DOES_NOT_EXIST = 481
    TOO_MANY_HOPS = 483
    SERVER_INTERNAL_ERROR = 500
    NOT_IMPLEMENTED = 501
    SERVICE_UNAVAILABLE = 503
    SERVER_TIMEOUT = 504
    VERSION_NOT_SUPPORTED = 505
    MESSAGE_TOO_LARGE = 513


REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}
"""RFC 3261 §21 default reason phrases."""

COMPACT_FORMS: dict[str, str] = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "u": "Allow-Events",
    "r": "Refer-To",
    "b": "Referred-By",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "x": "Session-Expires",
    "y": "Identity",
}
"""RFC 3261 §7.3.3 and the IANA SIP header registry compact forms."""

LIST_HEADERS = frozenset(
    (
        "via",
        "route",
        "record-route",
        "contact",
        "p-asserted-identity",
        "p-preferred-identity",
        "in-reply-to",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "accept",
        "accept-encoding",
        "accept-language",
        "content-encoding",
        "content-language",
        "accept-contact",
        "reject-contact",
        "request-disposition",
        "allow-events",
        "path",
        "service-route",
        "p-associated-uri",
    )
)
"""RFC 3261 §7.3.1: headers whose grammar is a comma-separated list (lower-case names)."""

Address = tuple[str, int]
"""(host, port) of a peer, as the asyncio transports give and take it."""
