"""The dashboard (``webapp``) in the sandbox: the same ``Dashboard`` the bot serves, answered
from the web chat's aiohttp app under ``/app``, and opened from the chat the way Telegram
opens a Mini App, with initData the sandbox signs for the persona with its bot token (the
sandbox is its own Telegram).

- ``GET /api/personas/{key}/webapp``: the address that opens the dashboard as that persona,
  ``/app/#tgWebAppData=…&tgWebAppThemeParams=…`` (404 for the group, which has no user);
- ``/app`` and ``/app/...``: ``Dashboard.handle``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

from aiohttp import web

from storage.db import utcnow
from webapp.api import MAX_BODY, Dashboard
from webapp.initdata import sign

# persona key -> (Telegram user id, language), or None for one without a user (the group);
# an unknown key raises the web chat's 404.
Who = Callable[[str], tuple[int, str] | None]

# Telegram's light theme, as it passes it to a Mini App.
THEME = {
    "bg_color": "#ffffff",
    "text_color": "#1c1c1e",
    "hint_color": "#8a8a8e",
    "link_color": "#2481cc",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#f2f3f5",
}


def opening_url(dashboard: Dashboard, telegram_id: int, language: str) -> str:
    """Where the Mini App opens for this user: the page with signed initData in its fragment."""
    init_data = sign(
        telegram_id=telegram_id,
        bot_token=dashboard.bot_token,
        auth_date=utcnow(),
        language_code=language,
    )
    theme = json.dumps(THEME, separators=(",", ":"))
    return f"/app/#tgWebAppData={quote(init_data, safe='')}&tgWebAppThemeParams={quote(theme)}"


def add_routes(app: web.Application, dashboard: Dashboard, who: Who) -> None:
    """Serves the dashboard and the persona's way into it on the web chat's app."""

    async def webapp_url(request: web.Request) -> web.Response:
        user = who(request.match_info["key"])
        if user is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": "a group has no Mini App"}),
                content_type="application/json",
            )
        return web.json_response({"url": opening_url(dashboard, *user)})

    async def serve(request: web.Request) -> web.Response:
        body = await request.content.read(MAX_BODY + 1) if request.method == "POST" else b""
        reply = await dashboard.handle(
            request.method, request.path, request.headers, dict(request.query), body
        )
        response = web.Response(body=reply.body, status=reply.status, headers=dict(reply.headers))
        response.content_type = reply.content_type.split(";")[0]
        if "charset=" in reply.content_type or reply.content_type == "application/json":
            response.charset = "utf-8"
        return response

    app.router.add_get("/api/personas/{key}/webapp", webapp_url)
    for path in ("/app", "/app/{rest:.*}"):
        app.router.add_route("GET", path, serve)
        app.router.add_route("POST", path, serve)
