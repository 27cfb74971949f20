"""The Mini App's HTTP answers under ``/app``, free of any web framework: ``Dashboard.handle``
takes a method, a path, the headers, the query and the body, and returns a ``Reply``. The
bot serves it from Starlette (``bot.dashboard``) beside the webhook, ``/healthz`` and
``/metrics``; the sandbox from its aiohttp app. docs/dashboard.md documents the API.

Every ``/app/api/...`` request carries Telegram's initData in ``Authorization: tma
<initData>``. Missing, forged or expired initData, and a Telegram user who is no member
and no administrator, get 401 and a log line with the reason only: never the initData,
a name or an id. Ids in a path are looked up in the viewer's team: another team's id is a
404 with no data of that team.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from flows.core.i18n import Texts
from storage import directory
from storage.cpr import CprNumberRefused
from storage.db import one_writer, session_scope, utcnow
from webapp import views
from webapp.access import NotAllowed, Viewer, identify
from webapp.initdata import InitDataRefused, WebAppUser, validate

logger = logging.getLogger(__name__)

PREFIX = "/app"
STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
MAX_BODY = 16_384
SCHEME = "tma "


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, content type and body."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    def json(self) -> Any:
        """The body as JSON (tests)."""
        return json.loads(self.body)


def _json(status: int, payload: object) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, body, headers=(("Cache-Control", "no-store"),))


class Problem(Exception):
    """An answer other than 200, with a code and a message in the viewer's language."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


# (session, viewer, now, query, body) -> the view's dict.
Handler = Callable[[Session, Viewer, datetime, Mapping[str, str], dict[str, Any]], dict[str, Any]]


def _number(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 12:
        raise views.NotFound(value)
    return int(value)


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., dict[str, Any]]
    writes: bool = False


def _routes() -> list[_Route]:
    def r(method: str, path: str, handler: Callable[..., dict[str, Any]]) -> _Route:
        return _Route(method, re.compile(f"^{PREFIX}/api/{path}$"), handler, method == "POST")

    return [
        r("GET", "me", lambda s, v, now, q, b: views.me(s, v)),
        r("POST", "team", _switch_team),
        r("GET", "residents", lambda s, v, now, q, b: views.resident_list(s, v)),
        r("GET", r"residents/(\d{1,12})", lambda s, v, now, q, b, i: views.resident_card(s, v, i)),
        r("GET", "board", lambda s, v, now, q, b: views.board(s, v, now)),
        r("GET", r"cases/(\d{1,12})", lambda s, v, now, q, b, i: views.case_detail(s, v, i, now)),
        r("POST", r"cases/(\d{1,12})/perspective", _perspective),
        r("GET", "trials", lambda s, v, now, q, b: views.trial_list(s, v, now)),
        r("GET", "moments", _moments),
        r("GET", "pulse", lambda s, v, now, q, b: views.pulse_view(s, v, now)),
        r("GET", "meetings", lambda s, v, now, q, b: views.meetings(s, v, now)),
        r("POST", r"meetings/(\d{1,12})/minutes", _minutes),
        r("GET", "overview", lambda s, v, now, q, b: views.overview(s, v, now)),
    ]


def _moments(
    session: Session, viewer: Viewer, now: datetime, query: Mapping[str, str], body: object
) -> dict[str, Any]:
    return views.moments(
        session,
        viewer,
        now,
        resident_id=_number(query.get("resident")),
        marker=query.get("marker") or None,
        before_id=_number(query.get("before")),
    )


def _text(body: dict[str, Any], key: str, texts: Texts, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Problem(400, "empty", texts._("Write something first."))
        return None
    if not isinstance(value, str):
        raise Problem(400, "bad_request", texts._("That request could not be read."))
    return value


def _switch_team(
    session: Session, viewer: Viewer, now: datetime, query: Mapping[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    team_id = body.get("team_id")
    if viewer.member is None or not isinstance(team_id, int):
        raise views.NotFound("team")
    if directory.switch_team(session=session, member=viewer.member, team_id=team_id) is None:
        raise views.NotFound("team")
    return {"team_id": team_id}


def _perspective(
    session: Session,
    viewer: Viewer,
    now: datetime,
    query: Mapping[str, str],
    body: dict[str, Any],
    case_id: int,
) -> dict[str, Any]:
    text = _text(body, "text", viewer.texts, required=True)
    assert text is not None
    return views.add_perspective(session, viewer, case_id, text=text, now=now)


def _minutes(
    session: Session,
    viewer: Viewer,
    now: datetime,
    query: Mapping[str, str],
    body: dict[str, Any],
    occurrence_id: int,
) -> dict[str, Any]:
    raw = body.get("discussed", [])
    if not isinstance(raw, list) or not all(
        isinstance(item, list)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], int)
        for item in raw
    ):
        raise Problem(400, "bad_request", viewer.texts._("That request could not be read."))
    return views.write_minutes(
        session,
        viewer,
        occurrence_id,
        discussed=[(kind, ref_id) for kind, ref_id in raw],
        decision=_text(body, "decision", viewer.texts, required=False),
        now=now,
    )


class Dashboard:
    """The Mini App of one installation: its database, its bot token (to check initData),
    its administrators, time zone and default language, and how to wake the prompt
    dispatcher after a write queued prompts (the minutes' decisions)."""

    def __init__(
        self,
        *,
        engine: Engine,
        bot_token: str,
        admins: list[int],
        texts: Texts,
        wake_prompts: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.bot_token = bot_token
        self.admins = list(admins)
        self.texts = texts
        self.wake_prompts = wake_prompts
        self.clock = clock
        self.routes = _routes()

    async def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        """The answer to one request under ``/app``."""
        if not path.startswith(f"{PREFIX}/api/"):
            return self._static(method, path)
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method != method:
                return _json(405, {"error": "method"})
            return await self._api(route, [int(g) for g in found.groups()], headers, query, body)
        return _json(404, {"error": "not_found"})

    def _static(self, method: str, path: str) -> Reply:
        if method not in ("GET", "HEAD"):
            return _json(405, {"error": "method"})
        name = path.removeprefix(PREFIX).lstrip("/") or "index.html"
        if name.startswith("static/"):
            name = name.removeprefix("static/")
        if name not in STATIC_FILES:
            return _json(404, {"error": "not_found"})
        return Reply(
            200,
            (STATIC_DIR / name).read_bytes(),
            STATIC_FILES[name],
            headers=(("Cache-Control", "no-cache"),),
        )

    def _user(self, headers: Mapping[str, str], now: datetime) -> WebAppUser:
        header = headers.get("authorization") or headers.get("Authorization") or ""
        init_data = header[len(SCHEME) :] if header.startswith(SCHEME) else None
        return validate(init_data, self.bot_token, now=now)

    async def _api(
        self,
        route: _Route,
        ids: list[int],
        headers: Mapping[str, str],
        query: Mapping[str, str],
        raw: bytes,
    ) -> Reply:
        now = self.clock()
        try:
            user = self._user(headers, now)
        except InitDataRefused as refused:
            logger.info("Dashboard request refused: initData %s", refused.reason.value)
            return self._unauthorized()
        body: dict[str, Any] = {}
        if route.writes:
            if len(raw) > MAX_BODY:
                return _json(
                    413, {"error": "too_large", "message": self.texts._("That is too long.")}
                )
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                return _json(
                    400,
                    {
                        "error": "bad_request",
                        "message": self.texts._("That request could not be read."),
                    },
                )
            body = parsed
        texts = self.texts
        async with one_writer(self.engine):
            try:
                with session_scope(self.engine) as session:
                    viewer = identify(
                        session=session,
                        user=user,
                        admins=self.admins,
                        tz=self.texts.tz,
                        default_language=self.texts.language,
                    )
                    texts = viewer.texts
                    answer = route.handler(session, viewer, now, query, body, *ids)
            except NotAllowed:
                logger.info("Dashboard request refused: not a member")
                return self._unauthorized()
            except Problem as problem:
                return _json(problem.status, {"error": problem.code, "message": problem.message})
            except views.NotFound:
                logger.info(
                    "Dashboard: %s %s found nothing in the viewer's team",
                    route.method,
                    route.pattern.pattern,
                )
                return _json(
                    404, {"error": "not_found", "message": texts._("That is no longer here.")}
                )
            except views.Refused:
                return _json(
                    403,
                    {"error": "forbidden", "message": texts._("Only the team lead can do that.")},
                )
            except CprNumberRefused:
                return _json(
                    400,
                    {
                        "error": "cpr",
                        "message": texts._(
                            "That looks like a CPR number. stemme must never hold CPR numbers, "
                            "so nothing was saved."
                        ),
                    },
                )
            except ValueError as error:
                logger.info(
                    "Dashboard: %s refused (%s)", route.pattern.pattern, type(error).__name__
                )
                return _json(
                    400,
                    {
                        "error": "invalid",
                        "message": texts._("That could not be saved. Nothing was changed."),
                    },
                )
        if route.writes:
            self.wake_prompts()
        return _json(200, answer)

    def _unauthorized(self) -> Reply:
        message = self.texts._("Open the dashboard from stemme in Telegram.")
        return Reply(
            401,
            json.dumps({"error": "unauthorized", "message": message}, ensure_ascii=False).encode(),
            headers=(("WWW-Authenticate", "tma"), ("Cache-Control", "no-store")),
        )
