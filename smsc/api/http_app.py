"""The HTTP application: every route, the error shape and the token, in one place that the
composition root and the tests share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from aml.store import AmlStore
from smsc.api.access import Credential, token_auth
from smsc.api.aml import aml_routes
from smsc.api.charging import charging_routes
from smsc.api.errors import INTERNAL_ERROR_HOOK, error_middleware
from smsc.api.health import health_routes
from smsc.api.message_request import MAX_BODY_OCTETS, RequestPolicy
from smsc.api.messages import message_routes
from smsc.api.metrics import Metrics, metrics_route
from smsc.api.openapi import openapi_route
from smsc.api.smpp import smpp_routes
from smsc.api.subscribers import subscriber_routes
from smsc.service.ports import MessageStore, RouteExplainer
from smsc.service.shared_state import RegistrationStore


def build_http_app(
    *,
    credentials: Sequence[Credential],
    ready: Callable[[], bool],
    store: MessageStore,
    metrics: Metrics,
    on_submitted: Callable[[list[str]], None],
    aml_store: AmlStore,
    registrations: RegistrationStore,
    clock: Callable[[], float],
    explainer: RouteExplainer | None = None,
    refresh: Callable[[], Awaitable[None]] | None = None,
    policy: RequestPolicy | None = None,
    smpp_sessions: Callable[[], list[dict[str, Any]] | None] | None = None,
) -> web.Application:
    """The aiohttp application of `http.listen`."""
    app = web.Application(
        middlewares=[error_middleware, token_auth(credentials)], client_max_size=MAX_BODY_OCTETS
    )
    app[INTERNAL_ERROR_HOOK] = metrics.internal_errors.labels("http").inc
    app.add_routes(health_routes(ready))
    app.add_routes(message_routes(store, metrics, on_submitted, explainer, policy))
    app.add_routes(aml_routes(aml_store))
    app.add_routes(subscriber_routes(store, registrations, clock))
    app.add_routes(charging_routes(store))
    app.add_routes(smpp_routes(smpp_sessions or (lambda: None)))
    app.add_routes([metrics_route(metrics, refresh), openapi_route()])
    return app
