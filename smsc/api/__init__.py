"""aiohttp HTTP API (docs/http-api.md)."""
