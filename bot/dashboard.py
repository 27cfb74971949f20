"""Wires the dashboard (``webapp``) into the bot's ASGI server: ``/app`` and everything
under it, served beside the webhook, ``/healthz`` and ``/metrics`` (and, when polling,
on ``STEMME_LISTEN``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram.ext import Application

from flows.core.engine import SERVICES_KEY, Services
from flows.core.i18n import texts
from webapp.api import MAX_BODY, PREFIX, Dashboard


def for_application(application: Application[Any, Any, Any, Any, Any, Any]) -> Dashboard:
    """The dashboard of this application: its database, token, administrators, texts."""
    services: Services = application.bot_data[SERVICES_KEY]
    settings = services.settings
    return Dashboard(
        engine=services.engine,
        bot_token=application.bot.token,
        admins=settings.admins,
        texts=texts(settings.locale, settings.tz),
        wake_prompts=services.wake_prompts,
    )


def routes(application: Application[Any, Any, Any, Any, Any, Any]) -> list[Route]:
    """``/app`` and ``/app/...`` for this application."""
    return serving(for_application(application))


def serving(dashboard: Dashboard) -> list[Route]:
    """``/app`` and ``/app/...`` answered by ``dashboard``."""

    async def serve(request: Request) -> Response:
        body = b""
        if request.method == "POST":
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    break
        reply = await dashboard.handle(
            request.method,
            request.url.path,
            request.headers,
            dict(request.query_params),
            body,
        )
        return Response(
            reply.body,
            status_code=reply.status,
            media_type=reply.content_type,
            headers=dict(reply.headers),
        )

    methods = ["GET", "HEAD", "POST"]
    return [
        Route(PREFIX, serve, methods=methods),
        Route(PREFIX + "/{rest:path}", serve, methods=methods),
    ]
