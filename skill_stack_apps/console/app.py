"""The console's web server: the page (static/), the JSON API and a WebSocket that pushes the state and the
camera, over a Backend (console/sim.py in-process, console/ros.py over ROS). Every error is `{"error": TEXT}`
with a 4xx/5xx status, never a traceback.

Access: on loopback (the default) anyone on this machine may use it, as they may use the robot's other tools;
a page from another site may not (requests whose Origin is another site, or whose Host is not loopback, are
refused: no cross-site requests, no DNS rebinding). Bound elsewhere, a token is required on every API call and
the WebSocket: `Authorization: Bearer TOKEN`, `X-Skillstack-Token: TOKEN` or `?token=TOKEN` (the page takes it
from its own address, `http://HOST:PORT/?token=TOKEN`).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.concurrency import run_in_threadpool

from skill_stack_apps.console.backend import Backend, ConsoleError

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: the largest request bodies: a JSON command, and a WAV (60 s of 48 kHz stereo 16-bit is 11 MB)
MAX_JSON_BYTES, MAX_WAV_BYTES = 64 * 1024, 12 * 1024 * 1024
WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave")
#: how often the WebSocket looks for a new state or camera frame, and the most frames it sends per second
POLL_S, MAX_FPS = 0.05, 10.0


def error(status: int, message: str, did_you_mean: str | None = None) -> JSONResponse:
    body = {"error": " ".join(str(message).split())}
    return JSONResponse(body | {"did_you_mean": did_you_mean} if did_you_mean else body, status_code=status)


def is_loopback(host: str) -> bool:
    return host.strip("[]") in LOOPBACK_HOSTS or host.startswith("127.")


class Access:
    """Who may call: the token (when set), and the Host/Origin checks of a loopback server."""

    def __init__(self, token: str | None, loopback: bool) -> None:
        self.token, self.loopback = token or None, loopback

    def refusal(self, headers: Any, query: Any) -> tuple[int, str] | None:
        """(HTTP status, why) a request (or WebSocket) is refused, or None."""
        host = headers.get("host", "")
        if self.loopback and not is_loopback(urlsplit(f"//{host}").hostname or ""):
            return 403, f"this console serves loopback only; the Host header {host[:80]!r} is not"
        origin = headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != host:
            return 403, "requests from another site's page are refused"
        if self.token is None:
            return None
        given = headers.get("x-skillstack-token") or query.get("token") or ""
        bearer = headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            given = bearer[7:].strip()
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return 401, "a valid token is required (Authorization: Bearer TOKEN, X-Skillstack-Token or ?token=)"
        return None


def create_app(backend: Backend, *, token: str | None = None, loopback: bool = True) -> FastAPI:
    """The console over `backend` (started by the caller). `loopback`: the server is bound to loopback."""
    app = FastAPI(title="skill_stack operator console", docs_url=None, redoc_url=None, openapi_url=None)
    access = Access(token, loopback)
    app.state.backend = backend

    @app.middleware("http")
    async def guard(request: Request, call_next):
        # the page and its files carry no data; the API does
        if request.url.path.startswith("/api/"):
            refusal = access.refusal(request.headers, request.query_params)
            if refusal is not None:
                return error(*refusal)
        try:
            return await call_next(request)
        except Exception as err:  # never a traceback to the client
            log.exception("console request %s %s failed", request.method, request.url.path)
            return error(500, f"internal error: {type(err).__name__}: {err}")

    @app.exception_handler(ConsoleError)
    async def console_error(request: Request, err: ConsoleError) -> JSONResponse:
        return error(err.status, err.message, err.did_you_mean)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        message = err.detail if isinstance(err.detail, str) else "request refused"
        if err.status_code == 404:
            message = f"no such page or API route: {request.url.path[:200]}"
        elif err.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path[:200]}"
        return error(err.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        return error(400, f"bad request: {err.errors()[0].get('msg', 'invalid') if err.errors() else 'invalid'}")

    # -- the page ----------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # -- state and camera ------------------------------------------------------------------------
    @app.get("/api/state")
    def state() -> dict[str, Any]:
        return backend.state.snapshot()

    @app.get("/api/camera.jpg")
    def camera() -> Response:
        _, jpeg = backend.frames.latest()
        if jpeg is None:
            raise ConsoleError(503, "no camera image yet")
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    # -- tasks -------------------------------------------------------------------------------------
    @app.post("/api/tasks")
    async def post_task(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        if "task" not in body:
            raise ConsoleError(400, 'send {"task": TEXT}, e.g. {"task": "put the red cube in the tray"}')
        task_id = await run_in_threadpool(backend.submit_task, body["task"])
        return {"id": task_id}

    @app.get("/api/tasks")
    def tasks() -> dict[str, Any]:
        return {"tasks": backend.state.snapshot()["tasks"]}

    @app.get("/api/tasks/{task_id}")
    def task(task_id: str) -> dict[str, Any]:
        return backend.task(task_id)

    @app.post("/api/tasks/{task_id}/cancel")
    def cancel(task_id: str) -> dict[str, Any]:
        return backend.cancel_task(task_id)

    # -- corrections -------------------------------------------------------------------------------
    @app.post("/api/corrections")
    async def post_correction(request: Request) -> dict[str, Any]:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in WAV_TYPES:
            wav = await _body(request, MAX_WAV_BYTES, "recording")
            if not wav.startswith(b"RIFF") or wav[8:12] != b"WAVE":
                raise ConsoleError(400, "the body is not a WAV file (RIFF/WAVE); send 16-bit PCM WAV, "
                                   "Content-Type: audio/wav")
            return await run_in_threadpool(backend.correct_audio, wav)
        body = await _json_body(request)
        if "text" not in body:
            raise ConsoleError(400, 'send {"text": TEXT} (e.g. {"text": "2 cm to the left"}) or a WAV body '
                               "with Content-Type: audio/wav")
        return await run_in_threadpool(partial(backend.correct, body["text"], task=body.get("task")))

    @app.get("/api/corrections")
    def corrections() -> dict[str, Any]:
        return {"records": backend.records()}

    @app.post("/api/corrections/{record_id}/disable")
    def disable(record_id: str) -> dict[str, Any]:
        return backend.set_disabled(record_id, True)

    @app.post("/api/corrections/{record_id}/enable")
    def enable(record_id: str) -> dict[str, Any]:
        return backend.set_disabled(record_id, False)

    @app.delete("/api/corrections/{record_id}")
    def delete(record_id: str) -> dict[str, Any]:
        return backend.delete_record(record_id)

    # -- e-stop ------------------------------------------------------------------------------------
    @app.post("/api/estop")
    def estop() -> dict[str, Any]:
        return backend.estop()

    @app.post("/api/estop/reset")
    def reset_estop() -> dict[str, Any]:
        return backend.reset_estop()

    # -- live updates ------------------------------------------------------------------------------
    @app.websocket("/api/ws")
    async def live(ws: WebSocket) -> None:
        """Text messages: the state (as GET /api/state) whenever it changes; binary: camera JPEGs."""
        refusal = access.refusal(ws.headers, ws.query_params)
        if refusal is not None:
            await ws.close(code=1008, reason=refusal[1][:120])  # 1008: policy violation
            return
        await ws.accept()
        loop = asyncio.get_running_loop()
        version, seq, sent_frame = -1, -1, 0.0
        try:
            while True:
                if backend.state.version != version:
                    snapshot = backend.state.snapshot()
                    version = snapshot["version"]
                    await ws.send_text(json.dumps(snapshot, default=str))
                frame_seq, jpeg = backend.frames.latest()
                if frame_seq != seq and jpeg is not None and loop.time() - sent_frame >= 1.0 / MAX_FPS:
                    seq, sent_frame = frame_seq, loop.time()
                    await ws.send_bytes(jpeg)
                try:  # the page sends nothing; this notices that it went away even when nothing changes
                    if (await asyncio.wait_for(ws.receive(), POLL_S))["type"] == "websocket.disconnect":
                        return
                except asyncio.TimeoutError:
                    pass
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            return  # the page went away

    return app


async def _body(request: Request, limit: int, what: str) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ConsoleError(413, f"the {what} is too large ({int(declared)} bytes, at most {limit})")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise ConsoleError(413, f"the {what} is too large (at most {limit} bytes)")
    return bytes(data)


async def _json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object; ConsoleError 400/415 otherwise. Only application/json: a form or text/plain
    post from another site's page is refused (it cannot send this type without asking first)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ConsoleError(415, f"send JSON (Content-Type: application/json), not {kind or 'no content type'!r}")
    raw = await _body(request, MAX_JSON_BYTES, "request")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConsoleError(400, f"the body is not valid JSON ({err})") from None
    if not isinstance(body, dict):
        raise ConsoleError(400, f"the body must be a JSON object, not {type(body).__name__}")
    return body
