"""The sandbox's web chat API against the unmodified bot on the emulator: what the page sends
becomes real updates, the bot's answers come back as view models, and what is not allowed
is refused before anything reaches the bot."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from sandbox.views import entities_html
from storage.db import session_scope
from storage.directory import get_member_by_telegram_id
from tests.sandbox_chat import GROUP_ID, OMAR_ID, RESIDENTS, RunningChat, running_chat


async def _messages(http: aiohttp.ClientSession, url: str, chat_id: int) -> dict[str, Any]:
    async with http.get(f"{url}api/chats/{chat_id}/messages") as response:
        assert response.status == 200
        result: dict[str, Any] = await response.json()
        return result


async def _wait_for_bot(
    http: aiohttp.ClientSession, sandbox: RunningChat, chat_id: int, text: str
) -> dict[str, Any]:
    """Follows the change feed until a bot message containing ``text`` is shown."""
    view = await _messages(http, sandbox.url, chat_id)
    for _ in range(40):
        for message in view["messages"]:
            if message["from_bot"] and text in message["html"]:
                return dict(message)
        feed = f"{sandbox.url}api/chats/{chat_id}/messages?after={view['version']}"
        async with http.get(feed) as response:
            view = await response.json()
    raise AssertionError(f"the bot never showed {text!r}: {view!r}")


async def _post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with http.post(url, json=body) as response:
        return response.status, await response.json()


async def test_text_and_a_button_reach_the_bot_and_its_answers_show(tmp_path: Path) -> None:
    async with running_chat(tmp_path) as sandbox, aiohttp.ClientSession() as http:
        async with http.get(f"{sandbox.url}api/personas") as response:
            info = await response.json()
        assert [p["key"] for p in info["personas"]][:2] == ["lise", "omar"]
        assert info["clock"] is True

        status, _ = await _post(http, f"{sandbox.url}api/personas/omar/text", {"text": "/note"})
        assert status == 202
        assert sandbox.emulator.updates[-1]["message"]["text"] == "/note"
        question = await _wait_for_bot(http, sandbox, OMAR_ID, "Hvem handler det om?")
        [first, *_] = [b for row in question["keyboard"] for b in row]
        assert first["text"] == RESIDENTS[0]

        body = {"message_id": question["id"], "data": first["data"]}
        status, _ = await _post(http, f"{sandbox.url}api/personas/omar/press", body)
        assert status == 202
        assert sandbox.emulator.updates[-1]["callback_query"]["data"] == first["data"]
        await _wait_for_bot(http, sandbox, OMAR_ID, "Hvad skete der")


async def test_forged_presses_long_texts_and_unknown_personas_are_refused(
    tmp_path: Path,
) -> None:
    async with running_chat(tmp_path) as sandbox, aiohttp.ClientSession() as http:
        await _post(http, f"{sandbox.url}api/personas/omar/text", {"text": "/note"})
        question = await _wait_for_bot(http, sandbox, OMAR_ID, "Hvem handler det om?")
        await sandbox.emulator.wait_idle()
        injected = len(sandbox.emulator.updates)

        press = f"{sandbox.url}api/personas/omar/press"
        status, body = await _post(http, press, {"message_id": question["id"], "data": "x:1"})
        assert status == 400 and "no button" in body["error"]
        status, body = await _post(http, press, {"message_id": 9999, "data": "x:1"})
        assert status == 400 and "no bot message" in body["error"]
        # Lise's chat does not hold Omar's message.
        data = question["keyboard"][0][0]["data"]
        status, _ = await _post(
            http,
            f"{sandbox.url}api/personas/lise/press",
            {"message_id": question["id"], "data": data},
        )
        assert status == 400

        text = f"{sandbox.url}api/personas/omar/text"
        status, body = await _post(http, text, {"text": "x" * 4097})
        assert status == 400 and "4096" in body["error"]
        async with http.post(
            text, data=b"{not json", headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 400
        status, _ = await _post(http, f"{sandbox.url}api/personas/nobody/text", {"text": "hej"})
        assert status == 404
        status, _ = await _post(http, f"{sandbox.url}api/language", {"language": "de"})
        assert status == 400
        async with http.get(f"{sandbox.url}api/chats/12345/messages") as response:
            assert response.status == 404
        assert len(sandbox.emulator.updates) == injected, "nothing refused reached the bot"


async def test_the_clock_does_not_exist_without_a_fast_forward(tmp_path: Path) -> None:
    async with running_chat(tmp_path, clock=False) as sandbox, aiohttp.ClientSession() as http:
        async with http.get(f"{sandbox.url}api/clock") as response:
            assert response.status == 404
        async with http.post(f"{sandbox.url}api/clock/day") as response:
            assert response.status == 404
        async with http.get(f"{sandbox.url}api/personas") as response:
            assert (await response.json())["clock"] is False


async def test_the_clock_moves_ahead_with_a_fast_forward(tmp_path: Path) -> None:
    async with running_chat(tmp_path) as sandbox, aiohttp.ClientSession() as http:
        async with http.get(f"{sandbox.url}api/clock") as response:
            before = (await response.json())["now"]
        async with http.post(f"{sandbox.url}api/clock/hour") as response:
            moved = await response.json()
        assert moved["moved"] is True and moved["now"] > before
        async with http.post(f"{sandbox.url}api/clock/backwards") as response:
            assert response.status == 404


async def test_a_users_markup_is_shown_as_text_never_as_html(tmp_path: Path) -> None:
    async with running_chat(tmp_path) as sandbox, aiohttp.ClientSession() as http:
        evil = '<script>alert("x")</script> & <b>fed</b>'
        await _post(http, f"{sandbox.url}api/personas/gruppe/text", {"text": evil})
        await asyncio.sleep(0.2)
        view = await _messages(http, sandbox.url, GROUP_ID)
        [shown] = [m["html"] for m in view["messages"] if not m["from_bot"]]
        assert shown == '&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;b&gt;fed&lt;/b&gt;'


def test_entities_become_tags_around_escaped_pieces() -> None:
    text = "Fed <i> og 👍 link"
    entities = [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "italic", "offset": 4, "length": 3},
        {"type": "text_link", "offset": 14, "length": 4, "url": "https://example.org/?a=1&b=2"},
    ]
    assert entities_html(text, entities) == (
        '<b>Fed</b> <i>&lt;i&gt;</i> og 👍 <a href="https://example.org/?a=1&amp;b=2" '
        'target="_blank" rel="noopener noreferrer">link</a>'
    )
    script = [{"type": "text_link", "offset": 0, "length": 3, "url": "javascript:alert(1)"}]
    assert entities_html("bad", script) == "bad"
    nested = [
        {"type": "bold", "offset": 0, "length": 5},
        {"type": "italic", "offset": 2, "length": 6},
    ]
    assert entities_html("abcdefgh", nested) == "<b>ab<i>cde</i></b>fgh"


async def test_a_sample_voice_message_is_sent_and_playable(tmp_path: Path) -> None:
    async with running_chat(tmp_path) as sandbox, aiohttp.ClientSession() as http:
        async with http.post(f"{sandbox.url}api/personas/omar/voice?sample=1") as response:
            assert response.status == 202
        assert "voice" in sandbox.emulator.updates[-1]["message"]
        view = await _messages(http, sandbox.url, OMAR_ID)
        [voice] = [m["voice"] for m in view["messages"] if "voice" in m]
        assert voice["duration"] == 3
        async with http.get(f"{sandbox.url}{voice['url'].lstrip('/')}") as response:
            assert response.status == 200
            assert (await response.read()).startswith(b"OggS")
        async with http.get(f"{sandbox.url}api/files/nope") as response:
            assert response.status == 404


async def test_the_language_switch_reaches_the_bot_and_the_page(tmp_path: Path) -> None:
    async with running_chat(tmp_path) as sandbox, aiohttp.ClientSession() as http:
        status, _ = await _post(http, f"{sandbox.url}api/language", {"language": "en"})
        assert status == 200
        assert sandbox.emulator.users[OMAR_ID].language_code == "en"
        with session_scope(sandbox.engine) as session:
            member = get_member_by_telegram_id(session=session, telegram_id=OMAR_ID)
            assert member is not None and member.language == "en"
        async with http.get(f"{sandbox.url}api/texts") as response:
            assert (await response.json())["step_day"] == "+1 day"
        async with http.get(f"{sandbox.url}api/texts?lang=da") as response:
            assert (await response.json())["step_day"] == "+1 dag"
        await _post(http, f"{sandbox.url}api/personas/omar/text", {"text": "/note"})
        await _wait_for_bot(http, sandbox, OMAR_ID, "Who is it about?")
