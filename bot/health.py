"""``/healthz`` and ``/metrics``: what a load balancer and a monitoring system ask.

``/healthz`` answers 200 with ``{"database": "ok", "scheduler": "ok", "dispatcher": "ok"}``
when the database answers ``SELECT 1`` (within ``DATABASE_TIMEOUT``) and the housekeeping
scheduler and the prompt dispatcher of this process are running, and 503 with the failing
part marked ``"failing"`` otherwise. ``/metrics`` is ``bot.metrics`` in Prometheus' text
format. Both serve webhook workers (beside the webhook) and polling processes (on
``STEMME_LISTEN``, when it is set).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram.ext import Application

from bot import metrics
from bot.app import DISPATCHER_KEY, SCHEDULER_KEY
from flows.core.engine import SERVICES_KEY, Services
from storage.health import ping

logger = logging.getLogger(__name__)

DATABASE_TIMEOUT = 2.0
OK = "ok"
FAILING = "failing"


def _ping(engine: Engine) -> None:
    with Session(engine) as session:
        ping(session=session)


async def database_ok(engine: Engine, seconds: float = DATABASE_TIMEOUT) -> bool:
    """Whether the database answers ``SELECT 1`` within ``seconds`` (in a thread,
    so a database that does not answer never holds up the event loop)."""
    try:
        async with asyncio.timeout(seconds):
            await asyncio.to_thread(_ping, engine)
    except Exception as error:
        logger.warning("Health check: the database did not answer (%s)", type(error).__name__)
        return False
    return True


async def check(application: Application[Any, Any, Any, Any, Any, Any]) -> dict[str, str]:
    """The state of the database, the scheduler and the dispatcher of this process."""
    services: Services = application.bot_data[SERVICES_KEY]
    scheduler = application.bot_data.get(SCHEDULER_KEY)
    dispatcher = application.bot_data.get(DISPATCHER_KEY)
    return {
        "database": OK if await database_ok(services.engine) else FAILING,
        "scheduler": OK if scheduler is not None and scheduler.running else FAILING,
        "dispatcher": OK if dispatcher is not None and dispatcher.running else FAILING,
    }


def routes(application: Application[Any, Any, Any, Any, Any, Any]) -> list[Route]:
    """The ``/healthz`` and ``/metrics`` routes for this application."""

    async def healthz(request: Request) -> Response:
        """200 when every part is ok, 503 otherwise."""
        state = await check(application)
        healthy = all(value == OK for value in state.values())
        return JSONResponse(state, status_code=200 if healthy else 503)

    async def metrics_text(request: Request) -> Response:
        """The counters in Prometheus' text format."""
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
    ]
