"""The HTTP API as an OpenAPI 3.1 document, served at GET /api/v1/openapi.json.

tests/smsc/api/test_openapi.py checks that its paths and methods are exactly the routes the
application registers."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from smsc import __version__
from smsc.api.message_request import MessageRequest
from smsc.service.model import DeferredChargeState, MessageState

OPENAPI_PATH = "/api/v1/openapi.json"

_ERROR = {"$ref": "#/components/schemas/Error"}
_JSON = "application/json"


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ERROR, description)


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}
_STATE = {"type": "string", "enum": [str(state) for state in MessageState]}

_MESSAGE_STATUS = _object(
    {
        "id": {"type": "string"},
        "state": _STATE,
        "to": {"type": "string"},
        "from": {"type": "string"},
        "origin": {"type": "string", "enum": ["mo", "api", "status-report", "smpp"]},
        "created_at": _NULLABLE_STRING,
        "updated_at": _NULLABLE_STRING,
        "delivered_at": _NULLABLE_STRING,
        "expires_at": _NULLABLE_STRING,
        "deliver_at": _NULLABLE_STRING,
        "roaming_status": _NULLABLE_STRING,
        "visited_plmn": _NULLABLE_STRING,
        "waiting": {
            "type": ["string", "null"],
            "description": "Why a queued or scheduled message has not left yet (no route, "
            "backing off, memory full, its delivery time), or null",
        },
        "segments": {"type": "array", "items": {"type": "object"}},
        "charging": {"type": "array", "items": {"type": "object"}},
    },
    ("id", "state", "to", "from", "segments", "waiting"),
)

_AML_REPORT = _object(
    {
        "id": {"type": "integer"},
        "state": {"type": "string"},
        "received_at": _NULLABLE_STRING,
        "sender": _NULLABLE_STRING,
        "destination": _NULLABLE_STRING,
        "route": _NULLABLE_STRING,
        "attempts": {"type": "integer"},
        "last_http_status": _NULLABLE_INT,
        "report": {},
    },
    ("id", "state"),
)

_DEFERRED_STATES = tuple(state.value for state in DeferredChargeState)
_DEFERRED_CHARGES = _object(
    {
        "counts": _object(
            {state: {"type": "integer", "minimum": 0} for state in _DEFERRED_STATES},
            _DEFERRED_STATES,
        ),
        "oldest_pending_at": {
            "type": ["string", "null"],
            "description": "When the oldest pending or sending CCR was kept, or null",
        },
        "oldest_pending_age_s": {
            "type": ["number", "null"],
            "description": "Its age in seconds, or null when none waits",
        },
    },
    ("counts", "oldest_pending_at", "oldest_pending_age_s"),
)

_SMPP_SESSION = _object(
    {
        "id": {"type": "integer", "description": "This process's number of the connection"},
        "system_id": {"type": ["string", "null"], "description": "The account, once bound"},
        "bind": {"type": ["string", "null"], "description": "tx, rx or trx, once bound"},
        "state": {"type": "string", "description": "open, bound_tx, bound_rx, bound_trx, ..."},
        "peer": {"type": "string", "description": "The ESME's HOST:PORT"},
        "opened_at": {"type": ["string", "null"]},
        "bound_at": {"type": ["string", "null"]},
        "window": {"type": ["integer", "null"], "description": "Requests allowed in flight"},
        "in_flight_in": {"type": "integer", "description": "The ESME's requests unanswered"},
        "in_flight_out": {"type": "integer", "description": "Our deliver_sm unanswered"},
    },
    ("id", "system_id", "bind", "state", "peer", "window", "in_flight_in", "in_flight_out"),
)
_SMPP_SESSIONS = _object({"sessions": {"type": "array", "items": _SMPP_SESSION}}, ("sessions",))


def _components() -> dict[str, Any]:
    request = MessageRequest.model_json_schema(
        by_alias=True, ref_template="#/components/schemas/{model}"
    )
    return {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "MessageRequest": request,
            "Error": _object(
                {
                    "error": {"type": "string", "description": "One line: what is wrong"},
                    "field": {
                        "type": ["string", "null"],
                        "description": "The field, parameter or part of the request at fault",
                    },
                    "errors": {
                        "type": "array",
                        "description": "Every problem, when a body has more than one",
                        "items": _object(
                            {"field": _NULLABLE_STRING, "error": {"type": "string"}},
                            ("field", "error"),
                        ),
                    },
                },
                ("error", "field"),
            ),
            "MessageStatus": _MESSAGE_STATUS,
            "AmlReport": _AML_REPORT,
        },
    }


def _with_token(operation: dict[str, Any]) -> dict[str, Any]:
    operation["security"] = [{"bearer": []}]
    operation["responses"]["401"] = _error("Missing or wrong bearer token (http.api_token set)")
    return operation


def openapi_document() -> dict[str, Any]:
    """The whole document."""
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SMSC / IP-SM-GW HTTP API",
            "version": __version__,
            "description": "Submit MT SMS, follow messages and AML reports, watch the service. "
            "Every error answers with the Error shape.",
        },
        "paths": {
            "/api/v1/messages": {
                "post": _with_token(
                    {
                        "summary": "Submit an SMS to a subscriber",
                        "requestBody": {
                            "required": True,
                            "content": {
                                _JSON: {"schema": {"$ref": "#/components/schemas/MessageRequest"}}
                            },
                        },
                        "responses": {
                            "201": _json(
                                _object(
                                    {"id": {"type": "string"}, "segments": {"type": "integer"}},
                                    ("id", "segments"),
                                ),
                                "Stored and queued for delivery",
                            ),
                            "413": _error("Body larger than 64 KiB"),
                            "422": _error("Invalid body: every field error in `errors`"),
                        },
                    }
                )
            },
            "/api/v1/messages/{id}": {
                "get": _with_token(
                    {
                        "summary": "A submission's state, attempts, causes and charging",
                        "parameters": [_path_parameter("id")],
                        "responses": {
                            "200": _json(
                                {"$ref": "#/components/schemas/MessageStatus"}, "The submission"
                            ),
                            "404": _error("No such submission"),
                        },
                    }
                )
            },
            "/api/v1/subscribers/{msisdn}": {
                "get": _with_token(
                    {
                        "summary": "A subscriber's registration and waiting messages",
                        "parameters": [_path_parameter("msisdn")],
                        "responses": {
                            "200": _json({"type": "object"}, "The subscriber"),
                            "422": _error("Not an E.164 number"),
                        },
                    }
                )
            },
            "/api/v1/aml": {
                "get": _with_token(
                    {
                        "summary": "Recent AML reports, newest first",
                        "parameters": [
                            {
                                "name": "limit",
                                "in": "query",
                                "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                            }
                        ],
                        "responses": {
                            "200": _json(
                                _object(
                                    {
                                        "reports": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/AmlReport"},
                                        }
                                    },
                                    ("reports",),
                                ),
                                "The reports",
                            ),
                            "422": _error("Bad limit"),
                            "503": _error("The store is unavailable"),
                        },
                    }
                )
            },
            "/api/v1/aml/{id}": {
                "get": _with_token(
                    {
                        "summary": "One AML report with every delivery attempt",
                        "parameters": [_path_parameter("id")],
                        "responses": {
                            "200": _json({"$ref": "#/components/schemas/AmlReport"}, "The report"),
                            "404": _error("No such report"),
                            "422": _error("Not a report id"),
                            "503": _error("The store is unavailable"),
                        },
                    }
                )
            },
            "/api/v1/charging/deferred": {
                "get": _with_token(
                    {
                        "summary": "CCRs no OCS answered, kept to be sent again: counts by "
                        "state and the oldest pending one's age",
                        "responses": {
                            "200": _json(_DEFERRED_CHARGES, "The deferred CCRs"),
                            "503": _error("The store is unavailable"),
                        },
                    }
                )
            },
            "/api/v1/smpp/sessions": {
                "get": _with_token(
                    {
                        "summary": "The SMPP sessions of ESMEs (bound or not) of this process",
                        "responses": {
                            "200": _json(_SMPP_SESSIONS, "The sessions"),
                            "404": _error("SMPP is off (smpp.listen is empty)"),
                        },
                    }
                )
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document (no token needed)",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "responses": {"200": _json({"type": "object"}, "The process runs")},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness",
                    "responses": {
                        "200": _json({"type": "object"}, "Serving"),
                        "503": _json({"type": "object"}, "Starting or stopping"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "Text format", "content": text}},
                }
            },
        },
        "components": _components(),
    }


def _path_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_route() -> web.RouteDef:
    """GET /api/v1/openapi.json."""
    document = openapi_document()

    async def handler(_: web.Request) -> web.Response:
        return web.json_response(document)

    return web.get(OPENAPI_PATH, handler)
