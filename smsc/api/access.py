"""Who may use the operator API: bearer tokens, each with a scope (read, or submit too)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from smsc.api.errors import Handler, error_response
from smsc.settings import ApiToken

log = logging.getLogger("smsc.api")

PUBLIC_API_PATHS = frozenset({"/api/v1/openapi.json"})
"""Under /api/ but readable without a token."""

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Credential:
    """One accepted bearer token."""

    name: str
    expected: bytes
    """The whole header value: b"Bearer <token>"."""
    may_submit: bool


def credentials_of(api_token: str | None, tokens: Sequence[ApiToken]) -> tuple[Credential, ...]:
    """`http.api_token` (read and submit) and `http.tokens` (each with its scope)."""
    found = [Credential(t.name, f"Bearer {t.token}".encode(), t.scope == "submit") for t in tokens]
    if api_token is not None:
        found.append(Credential("api_token", f"Bearer {api_token}".encode(), True))
    return tuple(found)


def _match(credentials: Sequence[Credential], presented: bytes) -> Credential | None:
    """Every credential is compared, in constant time each: the time says nothing of which."""
    matched = None
    for credential in credentials:
        if hmac.compare_digest(presented, credential.expected):
            matched = credential
    return matched


def token_auth(credentials: Sequence[Credential]) -> Any:
    """Middleware: with any token configured, /api/ needs one (401), and one whose scope
    allows the method (403: a read token cannot submit)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            not credentials
            or not request.path.startswith("/api/")
            or request.path in PUBLIC_API_PATHS
        ):
            return await handler(request)
        presented = request.headers.get("Authorization", "").encode()
        credential = _match(credentials, presented)
        if credential is None:
            log.warning("API request without a valid bearer token: %s", request.path)
            return error_response(401, headers={"WWW-Authenticate": "Bearer"})
        if request.method not in READ_METHODS and not credential.may_submit:
            log.warning("API token %s may only read: %s refused", credential.name, request.method)
            return error_response(403, f"token {credential.name!r} may only read")
        return await handler(request)

    return middleware
