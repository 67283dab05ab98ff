"""Charging asked of the main process by a worker: the CHARGE and CHARGED frames' bodies.

Only the main process holds Diameter connections (one Origin-Host, one set of peers); a worker
sends it the charging event of an MO and gets the result back. Bodies are JSON; octets are
hex. Reading one checks every field, so a malformed frame is a FrameError, never a wrong
charge.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from charging.ccr import AddressType, SmsChargingEvent
from charging.client import ChargeOutcome, ChargeResult, Unreachable
from charging.errors import ChargingUnavailable
from charging.results import DeliverFree, Proceed, Reject
from smsc.sms.constants import RpCause
from smsc.workers.frames import FrameError

_ID = struct.Struct("!I")
"""The request id, ahead of the JSON."""


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _octets(value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FrameError(f"octets expected as hex text, got {value!r}")
    return bytes.fromhex(value)


def _text(value: object, name: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise FrameError(f"{name}: text expected, got {value!r}")
    return value


def _number(value: object, name: str, *, optional: bool = False, real: bool = False) -> Any:
    if value is None and optional:
        return None
    kinds = (int, float) if real else (int,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise FrameError(f"{name}: number expected, got {value!r}")
    return value


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise FrameError(f"{name}: true or false expected, got {value!r}")
    return value


def _split(body: bytes) -> tuple[int, dict[str, Any]]:
    if len(body) < _ID.size:
        raise FrameError("charging frame: no request id")
    (request_id,) = _ID.unpack_from(body)
    try:
        document = json.loads(body[_ID.size :])
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"charging frame: {exc}") from exc
    if not isinstance(document, dict):
        raise FrameError("charging frame: an object expected")
    return request_id, document


def _join(request_id: int, document: dict[str, Any]) -> bytes:
    return _ID.pack(request_id) + json.dumps(document, separators=(",", ":")).encode("utf-8")


# --- the event ---------------------------------------------------------------------------


def encode_event(request_id: int, event: SmsChargingEvent) -> bytes:
    """The body of a CHARGE frame."""
    return _join(
        request_id,
        {
            "charged_msisdn": event.charged_msisdn,
            "recipient": event.recipient,
            "calling": event.calling_party_address,
            "called": event.called_party_address,
            "recipient_type": int(event.recipient_type),
            "imsi": event.imsi,
            "segments": event.segments,
            "dcs": event.dcs,
            "pid": event.pid,
            "udh": _hex(event.udh),
            "reply_path": event.reply_path,
            "pani": event.pani,
        },
    )


def decode_event(body: bytes) -> tuple[int, SmsChargingEvent]:
    """A CHARGE frame's request id and event; FrameError if it is not one."""
    request_id, d = _split(body)
    try:
        event = SmsChargingEvent(
            charged_msisdn=_text(d.get("charged_msisdn"), "charged_msisdn"),
            recipient=_text(d.get("recipient"), "recipient"),
            calling_party_address=_text(d.get("calling"), "calling"),
            called_party_address=_text(d.get("called"), "called"),
            recipient_type=AddressType(_number(d.get("recipient_type"), "recipient_type")),
            imsi=_text(d.get("imsi"), "imsi", optional=True),
            segments=_number(d.get("segments"), "segments"),
            dcs=_number(d.get("dcs"), "dcs"),
            pid=_number(d.get("pid"), "pid"),
            udh=_octets(d.get("udh")),
            reply_path=_flag(d.get("reply_path"), "reply_path"),
            pani=_text(d.get("pani"), "pani", optional=True),
        )
    except ValueError as exc:  # an unknown AddressType, odd hex
        raise FrameError(f"charging event: {exc}") from exc
    return request_id, event


# --- the result --------------------------------------------------------------------------


def _outcome(outcome: ChargeOutcome) -> dict[str, Any]:
    if isinstance(outcome, Proceed):
        return {"kind": "proceed"}
    if isinstance(outcome, DeliverFree):
        return {"kind": "deliver-free"}
    if isinstance(outcome, Reject):
        return {"kind": "reject", "rp_cause": int(outcome.rp_cause), "permanent": outcome.permanent}
    return {"kind": "unreachable", "policy": outcome.policy_applied, "reason": outcome.reason}


def _read_outcome(d: object) -> ChargeOutcome:
    if not isinstance(d, dict):
        raise FrameError("charging outcome: an object expected")
    kind = d.get("kind")
    if kind == "proceed":
        return Proceed()
    if kind == "deliver-free":
        return DeliverFree()
    if kind == "reject":
        try:
            cause = RpCause(_number(d.get("rp_cause"), "rp_cause"))
        except ValueError as exc:
            raise FrameError(f"charging outcome: {exc}") from exc
        return Reject(cause, _flag(d.get("permanent"), "permanent"))
    if kind == "unreachable":
        policy = d.get("policy")
        if policy not in ("continue", "terminate"):
            raise FrameError(f"charging outcome: policy {policy!r}")
        return Unreachable(policy, _text(d.get("reason"), "reason"))
    raise FrameError(f"charging outcome: kind {kind!r}")


def encode_result(request_id: int, result: ChargeResult) -> bytes:
    """The body of a CHARGED frame."""
    return _join(
        request_id,
        {
            "outcome": _outcome(result.outcome),
            "session_id": result.session_id,
            "result_code": result.result_code,
            "granted_units": result.granted_units,
            "peer": result.peer,
            "retransmitted": result.retransmitted,
            "latency_s": result.latency_s,
            "ccr": _hex(result.ccr),
        },
    )


def encode_failure(request_id: int, reason: str) -> bytes:
    """The body of a CHARGED frame saying no CCR could be sent (the client's ChargingError)."""
    return _join(request_id, {"failure": reason})


def decode_result(body: bytes) -> tuple[int, ChargeResult | ChargingUnavailable]:
    """A CHARGED frame's request id and result, or the failure it reports; FrameError if it
    is not one."""
    request_id, d = _split(body)
    if "failure" in d:
        reason = _text(d.get("failure"), "failure")
        return request_id, ChargingUnavailable(f"the main process could not charge: {reason}")
    try:
        ccr = _octets(d.get("ccr"))
    except ValueError as exc:
        raise FrameError(f"charging result: {exc}") from exc
    result = ChargeResult(
        outcome=_read_outcome(d.get("outcome")),
        session_id=_text(d.get("session_id"), "session_id"),
        result_code=_number(d.get("result_code"), "result_code", optional=True),
        granted_units=_number(d.get("granted_units"), "granted_units", optional=True),
        peer=_text(d.get("peer"), "peer", optional=True),
        retransmitted=_flag(d.get("retransmitted"), "retransmitted"),
        latency_s=float(_number(d.get("latency_s"), "latency_s", real=True)),
        ccr=ccr,
    )
    return request_id, result
