"""Loom's aiohttp server: routes, websocket hub, prompt worker (and the built canvas in static/)."""
