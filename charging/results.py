"""What the SMSC does with a Credit-Control-Answer: ONE table from result code to outcome.

Outcomes (values, not exceptions):

* ``Proceed``      the OCS debited the sender: store and deliver, then RP-ACK.
* ``DeliverFree``  4011 CREDIT_CONTROL_NOT_APPLICABLE: deliver without charging (RFC 4006 §5.1.2).
* ``Reject``       RP-ERROR to the sender with ``rp_cause`` (TS 24.011 Table 8.4); the SMS is
                   never stored. ``permanent`` tells the sender not to retry the same SMS.
* ``Failover``     a protocol error (3xxx, RFC 6733 §7.1.3): send the CCR (T flag) to another
                   peer, then apply ``charging.failure_handling`` (RFC 4006 §5.7).

Which code decides (RFC 4006 §8.16, TS 32.299 CCA format): the command-level Result-Code (or
Experimental-Result-Code) says whether the request as a whole was processed. If it is not a
success, it decides. If it is a success, the Result-Code inside the Multiple-Services-Credit-
Control is the answer for the one service we asked for, so the first non-success MSCC code
decides (e.g. 2001 with MSCC 4012 = no credit; 2001 with MSCC 4011 = deliver free). Experimental
codes are looked up in the same table: 3GPP defines no Ro-specific Experimental-Result-Code for
SMS, and OCSs that put the RFC 4006 codes inside Experimental-Result are common. Codes not in
the table fall back on their class (RFC 6733 §7.1): 2xxx proceed, 3xxx failover, 4xxx transient
reject, 5xxx permanent reject, anything else failover.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from charging.avp import CcaResult
from smsc.sms.constants import RpCause


class ResultCode(IntEnum):
    """RFC 6733 §7.1 and RFC 4006 §9 (Result-Code AVP values)."""

    DIAMETER_MULTI_ROUND_AUTH = 1001
    DIAMETER_SUCCESS = 2001
    DIAMETER_LIMITED_SUCCESS = 2002
    DIAMETER_COMMAND_UNSUPPORTED = 3001
    DIAMETER_UNABLE_TO_DELIVER = 3002
    DIAMETER_REALM_NOT_SERVED = 3003
    DIAMETER_TOO_BUSY = 3004
    DIAMETER_LOOP_DETECTED = 3005
    DIAMETER_REDIRECT_INDICATION = 3006
    DIAMETER_APPLICATION_UNSUPPORTED = 3007
    DIAMETER_INVALID_HDR_BITS = 3008
    DIAMETER_INVALID_AVP_BITS = 3009
    DIAMETER_UNKNOWN_PEER = 3010
    DIAMETER_AUTHENTICATION_REJECTED = 4001
    DIAMETER_OUT_OF_SPACE = 4002
    DIAMETER_ELECTION_LOST = 4003
    DIAMETER_END_USER_SERVICE_DENIED = 4010
    DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE = 4011
    DIAMETER_CREDIT_LIMIT_REACHED = 4012
    DIAMETER_AVP_UNSUPPORTED = 5001
    DIAMETER_UNKNOWN_SESSION_ID = 5002
    DIAMETER_AUTHORIZATION_REJECTED = 5003
    DIAMETER_INVALID_AVP_VALUE = 5004
    DIAMETER_MISSING_AVP = 5005
    DIAMETER_RESOURCES_EXCEEDED = 5006
    DIAMETER_CONTRADICTING_AVPS = 5007
    DIAMETER_AVP_NOT_ALLOWED = 5008
    DIAMETER_AVP_OCCURS_TOO_MANY_TIMES = 5009
    DIAMETER_NO_COMMON_APPLICATION = 5010
    DIAMETER_UNSUPPORTED_VERSION = 5011
    DIAMETER_UNABLE_TO_COMPLY = 5012
    DIAMETER_INVALID_BIT_IN_HEADER = 5013
    DIAMETER_INVALID_AVP_LENGTH = 5014
    DIAMETER_INVALID_MESSAGE_LENGTH = 5015
    DIAMETER_INVALID_AVP_BIT_COMBO = 5016
    DIAMETER_NO_COMMON_SECURITY = 5017
    DIAMETER_USER_UNKNOWN = 5030
    DIAMETER_RATING_FAILED = 5031


@dataclass(frozen=True, slots=True)
class Proceed:
    """Charged: store, deliver, RP-ACK."""


@dataclass(frozen=True, slots=True)
class DeliverFree:
    """Credit control does not apply to this SMS: deliver it uncharged."""


@dataclass(frozen=True, slots=True)
class Reject:
    """RP-ERROR to the sender (TS 24.011 §8.2.5.4); the SMS is not stored."""

    rp_cause: RpCause
    permanent: bool


@dataclass(frozen=True, slots=True)
class Failover:
    """No usable answer: retry on another peer with the T flag, then apply failure handling."""


Outcome = Proceed | DeliverFree | Reject | Failover

PROCEED = Proceed()
DELIVER_FREE = DeliverFree()
FAILOVER = Failover()

_RC = ResultCode
_PERMANENT_REJECT = Reject(RpCause.SHORT_MESSAGE_TRANSFER_REJECTED, permanent=True)
_NOT_SUBSCRIBED = Reject(RpCause.REQUESTED_FACILITY_NOT_SUBSCRIBED, permanent=True)
_TEMPORARY = Reject(RpCause.TEMPORARY_FAILURE, permanent=False)
# The OCS (or our CCR) is broken, not the subscriber: "the network is not functioning
# correctly and the condition is likely to last a relatively long period" (TS 24.011 Annex E).
_NETWORK_OUT_OF_ORDER = Reject(RpCause.NETWORK_OUT_OF_ORDER, permanent=False)

RESULT_TABLE: dict[int, Outcome] = {
    _RC.DIAMETER_MULTI_ROUND_AUTH: FAILOVER,  # not a CCA answer at all
    _RC.DIAMETER_SUCCESS: PROCEED,
    _RC.DIAMETER_LIMITED_SUCCESS: PROCEED,  # processed; extra work is the OCS's business
    # 3xxx protocol errors (RFC 6733 §7.1.3): another peer may well succeed (RFC 4006 §5.7).
    _RC.DIAMETER_COMMAND_UNSUPPORTED: FAILOVER,
    _RC.DIAMETER_UNABLE_TO_DELIVER: FAILOVER,
    _RC.DIAMETER_REALM_NOT_SERVED: FAILOVER,
    _RC.DIAMETER_TOO_BUSY: FAILOVER,
    _RC.DIAMETER_LOOP_DETECTED: FAILOVER,
    _RC.DIAMETER_REDIRECT_INDICATION: FAILOVER,
    _RC.DIAMETER_APPLICATION_UNSUPPORTED: FAILOVER,
    _RC.DIAMETER_INVALID_HDR_BITS: FAILOVER,
    _RC.DIAMETER_INVALID_AVP_BITS: FAILOVER,
    _RC.DIAMETER_UNKNOWN_PEER: FAILOVER,
    # 4xxx transient failures (RFC 6733 §7.1.4).
    _RC.DIAMETER_AUTHENTICATION_REJECTED: _TEMPORARY,
    _RC.DIAMETER_OUT_OF_SPACE: Reject(RpCause.CONGESTION, permanent=False),
    _RC.DIAMETER_ELECTION_LOST: FAILOVER,
    # Service restrictions on this subscriber: an entitlement matter (#50).
    _RC.DIAMETER_END_USER_SERVICE_DENIED: _NOT_SUBSCRIBED,
    _RC.DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE: DELIVER_FREE,
    # No credit: this SM is refused although it could be carried (#21); until a top-up,
    # resending cannot help, so permanent although Diameter calls 4012 transient.
    _RC.DIAMETER_CREDIT_LIMIT_REACHED: _PERMANENT_REJECT,
    # 5xxx permanent failures (RFC 6733 §7.1.5) describing our request, not the subscriber.
    _RC.DIAMETER_AVP_UNSUPPORTED: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_UNKNOWN_SESSION_ID: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_AUTHORIZATION_REJECTED: _NOT_SUBSCRIBED,
    _RC.DIAMETER_INVALID_AVP_VALUE: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_MISSING_AVP: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_RESOURCES_EXCEEDED: _PERMANENT_REJECT,  # the user spent allowed resources
    _RC.DIAMETER_CONTRADICTING_AVPS: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_AVP_NOT_ALLOWED: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_NO_COMMON_APPLICATION: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_UNSUPPORTED_VERSION: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_UNABLE_TO_COMPLY: _TEMPORARY,  # OCS-internal failure, often short-lived
    _RC.DIAMETER_INVALID_BIT_IN_HEADER: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_INVALID_AVP_LENGTH: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_INVALID_MESSAGE_LENGTH: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_INVALID_AVP_BIT_COMBO: _NETWORK_OUT_OF_ORDER,
    _RC.DIAMETER_NO_COMMON_SECURITY: _NETWORK_OUT_OF_ORDER,
    # The charged party has no account: "the subscriber is not registered in the PLMN" (#30).
    _RC.DIAMETER_USER_UNKNOWN: Reject(RpCause.UNKNOWN_SUBSCRIBER, permanent=True),
    # The OCS cannot rate this request (e.g. a destination with no tariff): the PLMN refuses
    # the facility (#29); the same SMS would fail again.
    _RC.DIAMETER_RATING_FAILED: Reject(RpCause.FACILITY_REJECTED, permanent=True),
}

_CLASS_FALLBACK: dict[int, Outcome] = {
    2: PROCEED,
    3: FAILOVER,
    4: _TEMPORARY,
    5: _PERMANENT_REJECT,
}


def outcome_for_code(code: int) -> Outcome:
    """The table entry for one result code, else the rule for its class (RFC 6733 §7.1)."""
    outcome = RESULT_TABLE.get(code)
    if outcome is not None:
        return outcome
    return _CLASS_FALLBACK.get(code // 1000, FAILOVER)


def is_success(code: int) -> bool:
    """RFC 6733 §7.1.2: 2xxx."""
    return 2000 <= code <= 2999


def deciding_code(cca: CcaResult) -> int | None:
    """The code that decides the outcome (module docstring); None if the answer has none."""
    experimental = None if cca.experimental is None else cca.experimental.code
    command = [c for c in (cca.result_code, experimental) if c is not None]
    failed = [c for c in command if not is_success(c)]
    if failed:
        return failed[0]
    if not command:
        return None
    for code in cca.mscc_result_codes:
        if not is_success(code):
            return code
    return command[0]


def outcome_of(cca: CcaResult) -> Outcome:
    """The SMSC's action for this answer."""
    code = deciding_code(cca)
    return FAILOVER if code is None else outcome_for_code(code)
