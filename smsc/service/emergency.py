"""Emergency SMS (TS 23.204 §5.4, ETSI TS 103 625): AML or plain text to a PSAP, never as MT.

The report is persisted before the RP-ACK; the PSAP delivery worker retries until the PSAP
accepts it. Never charged, never rate-limited, never refused for credit, roaming or
registration state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from aml.detect import aml_text_of, reassemble_text, text_of
from aml.formats import AmlContext, parse_etsi_https, render, report_as_dict
from aml.model import AML_HEADER, AmlReport
from aml.parser import parse_aml
from aml.store import NewAmlReport, StoredAmlReport
from smsc.redact import subscriber
from smsc.service.model import NewMessage
from smsc.settings import PsapRoute
from smsc.sms.segments import Reassembler
from smsc.sms.tp import SmsSubmit

log = logging.getLogger("smsc.emergency")


class AmlSubmitter(Protocol):
    """The PSAP delivery worker's intake (aml.psap.PsapDelivery)."""

    async def submit(self, report: NewAmlReport) -> int:
        """Persist (durable on return) and have it delivered."""


def choose_route(
    routes: Sequence[PsapRoute], destination: str, mcc: str | None
) -> PsapRoute | None:
    """The first route listing the number (and the serving MCC when it names MCCs)."""
    candidates = [r for r in routes if destination in r.numbers]
    for route in candidates:
        if not route.mccs or (mcc is not None and mcc in route.mccs):
            return route
    if candidates:
        return candidates[0]
    return routes[0] if routes else None


def parse_stored(raw: str) -> AmlReport:
    """A stored AML: SMS text (`A"ML=...`) or the ETSI HTTPS form a handset posted."""
    is_form = not raw.startswith(AML_HEADER) and any(
        field in raw for field in ("device_number=", "location_latitude=", "emergency_number=")
    )
    if not is_form:
        return parse_aml(raw)
    return parse_etsi_https(raw.encode("utf-8", "surrogateescape"))


def render_stored(stored: StoredAmlReport) -> tuple[bytes, str]:
    """Renderer for PsapDelivery: the stored raw text, parsed again, in the route's format."""
    report = stored.report
    parsed = parse_stored(report.raw_text)
    context = AmlContext(
        report_id=stored.id,
        sender_msisdn=report.sender_msisdn,
        received_at=report.received_at,
        raw_text=report.raw_text,
        emergency_number=report.destination,
        roaming_status=report.roaming_status,
        visited_plmn=report.visited_plmn,
    )
    return render(report.format, parsed, context)


class EmergencyService:
    """Turns an MO SMS to an emergency number into a persisted PSAP report."""

    def __init__(
        self,
        delivery: AmlSubmitter,
        routes: Sequence[PsapRoute],
        *,
        reassembly_timeout_s: float = 60.0,
    ) -> None:
        self.delivery = delivery
        self.routes = tuple(routes)
        self.reassembler: Reassembler[SmsSubmit] = Reassembler(timeout_s=reassembly_timeout_s)

    def text_of(self, submit: SmsSubmit, sender: str, now: float) -> str | None:
        """The whole text, or None while segments of a concatenated SMS are missing."""
        header = submit.user_data.header
        concat = None if header is None else header.concatenation
        if concat is None or concat.total == 1:
            return aml_text_of(submit) or text_of(submit.user_data)
        parts = self.reassembler.add(sender, concat, submit, now)
        if parts is None:
            return None
        return reassemble_text(parts)

    async def accept(
        self, message: NewMessage, text: str, mcc: str | None, received_at: datetime
    ) -> int:
        """Persist the report for its PSAP route (durable on return)."""
        return await self.persist(
            sender=message.originator,
            destination=message.recipient,
            raw=text,
            parsed=parse_aml(text),
            mcc=mcc,
            received_at=received_at,
            roaming_status=message.roaming_status,
            visited_plmn=message.visited_plmn,
        )

    async def accept_https(self, body: bytes, parsed: AmlReport, received_at: datetime) -> int:
        """A handset's ETSI TS 103 625 HTTPS AML POST (already parsed, strictly), into the same
        pipeline as SMS."""
        return await self.persist(
            sender=(parsed.device_number or "").removeprefix("+"),
            destination=parsed.emergency_number or "112",
            raw=body.decode("utf-8", "surrogateescape"),
            parsed=parsed,
            mcc=parsed.mcc,
            received_at=received_at,
        )

    async def persist(
        self,
        *,
        sender: str,
        destination: str,
        raw: str,
        parsed: AmlReport,
        mcc: str | None,
        received_at: datetime,
        roaming_status: str | None = None,
        visited_plmn: str | None = None,
    ) -> int:
        """Store the report for its PSAP route (durable on return); returns its id."""
        route = choose_route(self.routes, destination, mcc)
        if route is None:
            raise LookupError("no aml.psaps route is configured")
        report = NewAmlReport(
            received_at=received_at,
            sender_msisdn=sender,
            destination=destination,
            raw_text=raw,
            parsed_json=json.dumps(report_as_dict(parsed), ensure_ascii=False),
            route_name=route.name,
            format=route.format,
            url=route.url,
            roaming_status=roaming_status,
            visited_plmn=visited_plmn,
        )
        report_id = await self.delivery.submit(report)
        log.info(
            "emergency report from %s to %s stored as %s for PSAP route %s (%s)",
            subscriber(sender),
            destination,
            report_id,
            route.name,
            "AML" if parsed.is_aml else "text",
        )
        return report_id
