"""`curate label serve`: the labelling page as a small ASGI app (Starlette, run by uvicorn).

Security: every request needs the access token (``?token=`` once, then an HttpOnly,
SameSite=Strict cookie; or an ``Authorization: token ...`` header). Requests that change
state are POSTs that carry a CSRF token (derived from the access token, so it survives a
restart with the same token) and, when the browser says where they come from, come from
the page's own origin. Responses forbid inline scripts (Content-Security-Policy) and
framing.

Threads: the event loop only parses and answers; every session read and write runs on one
database thread (:class:`LabelDesk` and its session live there), and the model is refitted
on the desk's own worker thread, so a keystroke never waits on a fit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from curate.active import page
from curate.active.desk import LabelDesk, View
from curate.active.session import LabelingSession
from curate.errors import CurateError, InputError, require

log = logging.getLogger(__name__)

EXPORTS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}
STATIC = {"label.js": "text/javascript; charset=utf-8", "label.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
MAX_NAME = 40


def make_token() -> str:
    """A fresh random access token (48 hex digits)."""
    return secrets.token_hex(24)


def check_token(token: str) -> str:
    """``token`` if it is long and plain enough to use in a URL, else an InputError."""
    if len(token) < 16 or not re.fullmatch(r"[A-Za-z0-9_.~-]+", token):
        raise InputError("the access token must be at least 16 letters, digits or -_.~",
                         hint="leave out --token to get a random one")
    return token


def csrf_token(token: str) -> str:
    """The CSRF token pages send back with every POST (an HMAC of the access token)."""
    return hmac.new(token.encode(), b"curate-label-csrf", hashlib.sha256).hexdigest()


class Refused(Exception):
    """A request without the token, or a state change without the CSRF token or from another site."""


@dataclass
class ServeOptions:
    """How the page behaves: rows per query, and when claims of closed or silent pages are released."""

    batch_size: int | None = None
    tab_timeout: float = 120.0
    release_after: float = 15.0
    heartbeat: float = 15.0


class Gate:
    """ASGI middleware: the token on every request, same-origin POSTs, security and timing headers.

    ``Server-Timing: app;dur=<ms>`` on every response gives the server's time for it.
    """

    def __init__(self, app: Any, token: str, cookie: str) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie

    def refusal(self, request: Any) -> str | None:
        """Why the request is refused, or ``None``."""
        given = (request.query_params.get("token") or request.cookies.get(self.cookie)
                 or request.headers.get("authorization", "").removeprefix("token ").strip())
        if not given:
            return "this page needs its access token"
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return "the access token is wrong"
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("origin")
            host = request.headers.get("host", "")
            if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
                return f"a cross-site request (from {origin}) may not change anything here"
            if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
                return "a cross-site request may not change anything here"
        return None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.datastructures import MutableHeaders
        from starlette.requests import Request
        from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse

        started = time.perf_counter()

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
            await send(message)

        request = Request(scope)
        reason = self.refusal(request)
        if reason is not None:
            response = (JSONResponse({"error": reason}, status_code=403) if request.url.path.startswith("/api/")
                        else HTMLResponse(page.forbidden_page(reason), status_code=403))
        elif "token" in request.query_params and request.method == "GET":
            query = "&".join(f"{quote(k)}={quote(v)}" for k, v in request.query_params.multi_items() if k != "token")
            response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), status_code=303)
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict")
        else:
            await self.app(scope, receive, send_with_headers)
            return
        await response(scope, receive, send_with_headers)


def create_app(folder: str | Path, token: str, port: int, options: ServeOptions | None = None) -> Any:
    """The labelling app for the session in ``folder``.

    Parameters
    ----------
    folder : str or Path
        The session folder.
    token : str
        The access token every request must carry.
    port : int
        The port it is served on (it names the cookies, so two servers on one host do not mix).
    options : ServeOptions, optional
        Batch size and claim release timing.
    """
    require("starlette", "serve", "starlette")
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    options = options or ServeOptions()
    folder = Path(folder)
    check_token(token)
    csrf = csrf_token(token)
    who_cookie = f"curate-who-{port}"
    probe = LabelingSession(folder)  # fails early, with the session's own error, when there is none
    labels, session_name = probe.labels, folder.resolve().name
    probe.close()
    desk = LabelDesk(folder, batch_size=options.batch_size, tab_timeout=options.tab_timeout,
                     release_after=options.release_after)
    database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="curate-label-db")
    static = {name: resources.files("curate.active").joinpath("static", name).read_bytes() for name in STATIC}

    async def on_database(call: Callable, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(database, functools.partial(call, *args))

    def valid_name(name: str) -> bool:
        return 0 < len(name) <= MAX_NAME and name.isprintable()

    def who_of(request: Request) -> str | None:
        name = unquote(request.cookies.get(who_cookie, ""))
        return name if valid_name(name) else None

    async def payload(request: Request) -> dict[str, Any]:
        body = await request.body()
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            data: Any = {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        else:
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                raise InputError("the request body is not JSON", hint="send a JSON object") from None
            if not isinstance(data, dict):
                raise InputError("the request body is not a JSON object", hint="send a JSON object")
        given = request.headers.get("x-csrf-token") or data.get("csrf") or ""
        if not hmac.compare_digest(str(given).encode(), csrf.encode()):
            raise Refused("the CSRF token is missing or wrong: reload the page")
        return data

    def answer(view: View, who: str) -> dict[str, Any]:
        return {"row": view.item.id if view.item else None, "waiting": view.waiting, "done": view.done,
                "message": view.message, "retraining": desk.retraining,
                "item": page.item(view, labels), "panel": page.panel(desk.board(who), who)}

    async def index(request: Request) -> Response:
        who = who_of(request)
        if who is None:
            return HTMLResponse(page.name_page(session_name, csrf))
        tab = secrets.token_urlsafe(12)

        def render() -> str:
            view = desk.view(tab, who)
            return page.page(session_name=session_name, who=who, tab=tab, csrf=csrf, labels=labels, view=view,
                             board=desk.board(who), heartbeat=options.heartbeat)

        return HTMLResponse(await on_database(render))

    async def name_form(request: Request) -> Response:
        return HTMLResponse(page.name_page(session_name, csrf, who_of(request)))

    async def set_name(request: Request) -> Response:
        data = await payload(request)
        name = str(data.get("name", "")).strip()
        if not valid_name(name):
            return HTMLResponse(page.name_page(session_name, csrf, name[:MAX_NAME],
                                               f"a name is 1 to {MAX_NAME} printable characters"), status_code=400)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(who_cookie, quote(name), httponly=True, samesite="strict", max_age=365 * 86400)
        return response

    def api(action: Callable[[dict[str, Any], str], View]) -> Callable:
        async def endpoint(request: Request) -> Response:
            data = await payload(request)
            who = who_of(request)
            if who is None:
                return JSONResponse({"error": "choose a labeller name first: reload the page"}, status_code=409)
            tab = data.get("tab")
            if not isinstance(tab, str) or not 8 <= len(tab) <= 64:
                raise InputError("the request names no page (tab)", hint="reload the page")
            row = data.get("row")
            if row is not None and not isinstance(row, str):
                raise InputError("row must be a row id", hint="reload the page")
            data["row"] = row
            return JSONResponse(await on_database(lambda: answer(action(data, who), who)))

        return endpoint

    def do_label(data: dict[str, Any], who: str) -> View:
        label = data.get("label")
        if data["row"] is None or not isinstance(label, (int, str)) or isinstance(label, bool):
            raise InputError("a label request needs the row and the label", hint="reload the page")
        return desk.label(data["tab"], who, data["row"], label)

    def do_skip(data: dict[str, Any], who: str) -> View:
        if data["row"] is None:
            return desk.view(data["tab"], who)
        return desk.skip(data["tab"], who, data["row"])

    async def close(request: Request) -> Response:
        data = await payload(request)
        if isinstance(data.get("tab"), str):
            await on_database(desk.close, data["tab"])
        return Response(status_code=204)

    async def status(request: Request) -> Response:
        try:
            metrics = await asyncio.wrap_future(desk.status())
        except Exception as exc:  # noqa: BLE001 - the worker process failed: say so on the page
            log.exception("computing the status failed")
            return HTMLResponse(page.forbidden_page(f"the status could not be computed: {type(exc).__name__}: {exc}",
                                                    title="Status unavailable"), status_code=503)
        return HTMLResponse(page.status_page(session_name, who_of(request), metrics))

    async def export(request: Request) -> Response:
        fmt = request.path_params["fmt"]
        if fmt not in EXPORTS:
            return Response(f"no export format {fmt}: use csv, jsonl or parquet", status_code=404)

        def write() -> bytes:
            frame = desk.session.export()
            buffer = io.BytesIO()
            {"csv": frame.write_csv, "jsonl": frame.write_ndjson, "parquet": frame.write_parquet}[fmt](buffer)
            return buffer.getvalue()

        filename = re.sub(r"[^A-Za-z0-9._-]+", "_", session_name) or "session"
        return Response(await on_database(write), media_type=EXPORTS[fmt],
                        headers={"content-disposition": f"attachment; filename=\"labels-{filename}.{fmt}\""})

    async def static_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in static:
            return Response("not found", status_code=404)
        return Response(static[name], media_type=STATIC[name])

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    async def refused(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=403)

    async def bad_input(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    async def failed(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": f"the server failed: {type(exc).__name__}: {exc} (see its log); "
                                      "every label given so far is saved"}, status_code=500)

    async def sweep_forever() -> None:
        while True:
            await asyncio.sleep(min(options.release_after, options.tab_timeout, 5.0) / 2)
            await on_database(desk.sweep)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await on_database(desk.start)
        sweeper = asyncio.create_task(sweep_forever())
        try:
            yield
        finally:
            sweeper.cancel()
            await on_database(desk.shutdown)
            database.shutdown(wait=True)

    routes = [
        Route("/", index), Route("/who", name_form), Route("/who", set_name, methods=["POST"]),
        Route("/status", status), Route("/export.{fmt}", export), Route("/static/{name}", static_file),
        Route("/favicon.ico", favicon),
        Route("/api/view", api(lambda data, who: desk.view(data["tab"], who, data["row"])), methods=["POST"]),
        Route("/api/label", api(do_label), methods=["POST"]),
        Route("/api/skip", api(do_skip), methods=["POST"]),
        Route("/api/undo", api(lambda data, who: desk.undo(data["tab"], who, data["row"])), methods=["POST"]),
        Route("/api/close", close, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(Gate, token=token, cookie=f"curate-token-{port}")],
                    exception_handlers={Refused: refused, CurateError: bad_input, Exception: failed})
    app.state.desk = desk
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror})",
                         hint="pick another --port (0 picks a free one), or another --host") from None
    sock.listen(128)
    return sock


def url(host: str, port: int, token: str) -> str:
    """The address to open, with the token (a wildcard host is shown as 127.0.0.1)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/?token={token}"


def is_local(host: str) -> bool:
    """Whether ``host`` is a loopback address (only this machine can connect)."""
    return host in ("localhost", "::1") or host.startswith("127.")


def run(app: Any, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until interrupted (Ctrl-C or SIGTERM stop it cleanly, releasing claims)."""
    uvicorn = require("uvicorn", "serve", "uvicorn")
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
