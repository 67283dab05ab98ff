"""GET /api/v1/subscribers/{msisdn}: registration, S-CSCF and waiting messages."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from smsc.api.errors import error_response
from smsc.service.ports import MessageStore
from smsc.service.shared_state import RegistrationStore


def subscriber_routes(
    store: MessageStore, registrations: RegistrationStore, clock: Callable[[], float]
) -> list[web.RouteDef]:
    """Visibility of one subscriber (tel: or digits, with or without '+')."""

    async def get_subscriber(request: web.Request) -> web.Response:
        msisdn = request.match_info["msisdn"].removeprefix("tel:").removeprefix("+")
        if not msisdn.isdigit() or not 3 <= len(msisdn) <= 15:
            return error_response(422, "not an E.164 number", "msisdn")
        registration = await registrations.lookup(msisdn)
        waiting = await store.waiting_for(msisdn, 100)
        return web.json_response(
            {
                "msisdn": "+" + msisdn,
                "registered": registration is not None,
                "registration": None
                if registration is None
                else {
                    "scscf": registration.scscf_uri,
                    "expires_in_s": max(0, round(registration.expires_at - clock())),
                    "sms_over_ip": registration.sms_over_ip,
                    "access_network_info": registration.access_network_info,
                },
                "waiting": [
                    {
                        "id": m.message.submission_id,
                        "state": str(m.state),
                        "from": m.message.originator,
                        "attempts": m.attempts,
                        "last_rp_cause": m.last_rp_cause,
                        "last_sip_status": m.last_sip_status,
                        "next_attempt_at": None
                        if m.next_attempt_at is None
                        else m.next_attempt_at.isoformat(),
                    }
                    for m in waiting
                ],
            }
        )

    return [web.get("/api/v1/subscribers/{msisdn}", get_subscriber)]
