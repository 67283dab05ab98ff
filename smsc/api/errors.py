"""One JSON shape for every HTTP error, and the API's one top-level exception handler.

Every error answer is `{"error": "<one line>", "field": <name or null>}`; a body with several
invalid fields adds `"errors": [{"field": ..., "error": ...}, ...]` (the first is repeated in
`field` and `error`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

log = logging.getLogger("smsc.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

InternalErrorHook = Callable[[], None]
INTERNAL_ERROR_HOOK: web.AppKey[InternalErrorHook] = web.AppKey("internal_error_hook")
"""Called for each unexpected failure the middleware turns into a 500 (a metric)."""

_MESSAGES = {
    400: "bad request",
    401: "missing or wrong bearer token",
    403: "forbidden",
    404: "no such resource",
    405: "method not allowed",
    413: "request body too large",
    415: "unsupported media type",
    422: "invalid request",
    429: "too many requests",
    500: "internal error",
    503: "unavailable",
}


def error_response(
    status: int,
    message: str | None = None,
    field: str | None = None,
    *,
    errors: Sequence[tuple[str | None, str]] = (),
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The error shape for `status`."""
    body: dict[str, Any] = {
        "error": message or _MESSAGES.get(status, "error"),
        "field": field,
    }
    if len(errors) > 1:
        body["errors"] = [{"field": name, "error": text} for name, text in errors]
    return web.json_response(body, status=status, headers=headers)


def _from_http_exception(exc: web.HTTPException) -> web.Response:
    kept = ("Allow", "WWW-Authenticate")
    headers = {name: exc.headers[name] for name in kept if name in exc.headers}
    text = (exc.text or "").strip()
    if not text or text.startswith(f"{exc.status}:"):  # aiohttp's default body
        text = _MESSAGES.get(exc.status, exc.reason.lower())
    return error_response(exc.status, text.splitlines()[0], headers=headers or None)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The HTTP API's top-level handler: aiohttp's own errors (404, 405, 413, ...) and anything
    unexpected (500, logged with its traceback) leave in the error shape."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http_exception(exc)
    except Exception:  # the one top-level handler of the HTTP entry point
        hook = request.app.get(INTERNAL_ERROR_HOOK)
        if hook is not None:
            hook()
        log.exception("HTTP %s %s failed", request.method, request.path)
        return error_response(500)
