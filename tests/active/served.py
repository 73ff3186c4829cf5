"""Run `curate label serve` as a real subprocess, and drive Debian's Chromium with Playwright."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import polars as pl
from active_helpers import TFIDF, synthetic_texts

from curate.active import LabelingSession

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
LABELS = ["neg", "neu", "pos"]
TOKEN = "test-token-0123456789abcdef"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """Debian's Chromium (scripts/install-chromium.sh installs it), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def make_session(folder: Path, n: int = 60, batch_size: int = 5, frame: pl.DataFrame | None = None, **kwargs) -> dict[str, int]:
    """A TF-IDF session over synthetic texts with a held-out set; returns the true class index per id."""
    frame = synthetic_texts(n) if frame is None else frame
    test = synthetic_texts(45, seed=7).with_columns(label=pl.col("label").replace_strict([0, 1, 2], LABELS))
    LabelingSession.create(folder, frame, LABELS, id="id", features=TFIDF, batch_size=batch_size, test=test,
                           **kwargs).close()
    return dict(zip(frame["id"].to_list(), frame["label"].to_list(), strict=True)) if "label" in frame.columns else {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`curate label serve` in a subprocess; ``url`` is the printed address with the token."""

    def __init__(self, session: Path, *args: str, port: int = 0, token: str = TOKEN, host: str = "127.0.0.1") -> None:
        self.command = [sys.executable, "-m", "curate", "label", "serve", "-s", str(session), "--host", host,
                        "--port", str(port), "--token", token, "--release-after", "1", "--heartbeat", "1",
                        "--tab-timeout", "5", *args]
        self.token = token
        self.proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)
        self.printed: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the server exited: {self.proc.wait()} {self.proc.stderr.read()[-3000:]}")
            self.printed.append(line)
            found = re.search(r"(http://\S+/\?token=\S+)", line)
            if found:
                self.url = found.group(1)
                self.base = self.url.split("/?")[0]
                self.port = int(self.base.rsplit(":", 1)[1])
                return
        raise RuntimeError("the server printed no URL")

    def kill(self) -> None:
        """SIGKILL: no cleanup at all."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> str:
        """SIGTERM (a clean stop) and return what it printed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        return "".join(self.printed) + self.proc.stdout.read() + self.proc.stderr.read()


@contextmanager
def serving(session: Path, *args: str, **kwargs):
    server = Server(session, *args, **kwargs)
    try:
        yield server
    finally:
        server.stop()


class Client:
    """A plain HTTP client with a cookie jar (no redirects followed unless asked)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()

    def request(self, path: str, method: str = "GET", data: dict | bytes | None = None,
                headers: dict[str, str] | None = None, follow: bool = False) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps(data).encode() if isinstance(data, dict) else data
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        if isinstance(data, dict):
            request.add_header("Content-Type", "application/json")
        handlers = [urllib.request.HTTPCookieProcessor(self.jar)]
        if not follow:
            handlers.append(_NoRedirect())
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def database(session: Path) -> sqlite3.Connection:
    return sqlite3.connect(session / "session.db", timeout=60)


def active_labels(session: Path) -> list[tuple[str, int, str]]:
    """(id, label index, who) of every active label."""
    with database(session) as db:
        return db.execute("SELECT p.id, l.label, l.who FROM labels l JOIN pool p ON p.pos = l.pos "
                          "WHERE l.active = 1 ORDER BY l.seq").fetchall()


def wait_until(check, timeout: float = 30.0, every: float = 0.1):
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")
