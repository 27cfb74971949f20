"""The team's dashboard: a Telegram Mini App served by stemme itself.

``initdata`` checks Telegram's signature on every request, ``access`` maps the signed
Telegram user to a member and team exactly as the chat does, ``views`` builds the JSON of
each view from the storage functions, ``charts`` draws the run charts as SVG on the
server, and ``api`` answers the requests under ``/app`` (framework-free, so the webhook's
Starlette app and the sandbox's aiohttp app serve the same answers). docs/dashboard.md
documents the JSON API.
"""
