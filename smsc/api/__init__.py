"""aiohttp HTTP API (DESIGN.md §4)."""
