"""`curate label serve` over plain HTTP: the token, CSRF and origin checks, exports, status, bad options."""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import sys
import threading

import polars as pl
from served import ENV, LABELS, TOKEN, Client, active_labels, database, make_session, serving, wait_until

from curate.active.server import csrf_token

CSRF = csrf_token(TOKEN)


def _named(server, who: str) -> Client:
    """A client that holds the token cookie and a labeller name."""
    client = Client(server.base)
    status, headers, _ = client.request(f"/?token={TOKEN}")
    assert status == 303 and headers["location"] == "/"
    status, _, _ = client.request("/who", "POST", f"name={who}&csrf={CSRF}".encode(),
                                  {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303
    return client


def _api(client: Client, action: str, body: dict, **headers: str) -> tuple[int, dict]:
    status, _, raw = client.request(f"/api/{action}", "POST", body, {"X-CSRF-Token": CSRF, **headers})
    return status, json.loads(raw) if raw else {}


def test_token_csrf_and_origin_are_checked_on_every_request(tmp_path):
    make_session(tmp_path / "s", n=30)
    with serving(tmp_path / "s") as server:
        anonymous = Client(server.base)
        for path in ("/", "/status", "/export.csv", "/static/label.js", "/who", "/nowhere"):
            status, headers, body = anonymous.request(path)
            assert status == 403 and b"needs its access token" in body, path
            assert "default-src 'none'" in headers["content-security-policy"]
        assert anonymous.request("/?token=wrong-token-0123456789")[0] == 403
        assert anonymous.request("/api/view", "POST", {"tab": "t" * 12, "csrf": CSRF})[0] == 403  # csrf alone is not enough

        client = Client(server.base)
        status, headers, _ = client.request(f"/?token={TOKEN}")
        assert status == 303 and headers["location"] == "/"  # the token leaves the address bar for a cookie
        assert re.search(r"curate-token-\d+=" + TOKEN + r".*HttpOnly.*SameSite=strict", headers["set-cookie"], re.I)
        status, headers, body = client.request("/")
        assert status == 200 and b"Who is labelling?" in body and "app;dur=" in headers["server-timing"]
        assert Client(server.base).request("/", headers={"Authorization": f"token {TOKEN}"})[0] == 200

        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert client.request("/who", "POST", b"name=ann", form)[0] == 403  # no CSRF token
        assert client.request("/who", "POST", b"name=ann&csrf=" + b"0" * 64, form)[0] == 403
        status, _, body = client.request("/who", "POST", f"name=&csrf={CSRF}".encode(), form)
        assert status == 400 and b"a name is 1 to 40" in body
        assert client.request("/who", "POST", f"name=ann&csrf={CSRF}".encode(), form)[0] == 303

        tab = {"tab": "tab-0123456789"}
        assert client.request("/api/view", "POST", tab)[0] == 403  # no CSRF header or field
        assert client.request("/api/view", "POST", tab, {"X-CSRF-Token": "nope"})[0] == 403
        assert _api(client, "view", tab, Origin="http://evil.example")[0] == 403
        assert _api(client, "view", tab, **{"Sec-Fetch-Site": "cross-site"})[0] == 403
        assert client.request("/api/label", "GET")[0] == 405
        status, answer = _api(client, "view", tab, Origin=server.base)
        assert status == 200 and set(answer) >= {"row", "item", "panel", "waiting"}
        with database(tmp_path / "s") as db:
            assert db.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 0  # nothing refused changed anything


def test_label_skip_undo_export_status_and_goodbye_over_http(tmp_path):
    truth = make_session(tmp_path / "s", n=30)
    with serving(tmp_path / "s", "--tab-timeout", "600") as server:  # only a goodbye releases claims here
        client = _named(server, "ann")
        tab = {"tab": "tab-0123456789"}
        answer = _api(client, "view", tab)[1]
        while answer["row"] is None:
            answer = _api(client, "view", tab)[1]
        labelled = []
        for _ in range(6):
            row = answer["row"]
            status, answer = _api(client, "label", {**tab, "row": row, "label": truth[row]})
            assert status == 200
            labelled.append(row)
            while answer["row"] is None:
                answer = _api(client, "view", tab)[1]
        skipped = answer["row"]
        answer = _api(client, "skip", {**tab, "row": skipped})[1]
        assert answer["row"] != skipped
        status, answer = _api(client, "label", {**tab, "row": labelled[0], "label": 0})  # a stale answer
        assert status == 200 and answer["message"] == "that row was already answered"
        status, answer = _api(client, "label", {**tab, "row": answer["row"], "label": "maybe"})
        assert status == 400 and "unknown label 'maybe'" in answer["error"]
        answer = _api(client, "undo", {**tab, "row": answer.get("row")})[1]
        assert answer["row"] == labelled[-1]

        status, headers, body = client.request("/export.csv")
        assert status == 200 and 'filename="labels-s.csv"' in headers["content-disposition"]
        exported = pl.read_csv(io.BytesIO(body))
        assert exported["id"].to_list() == labelled[:-1]
        assert exported["label"].to_list() == [LABELS[truth[i]] for i in labelled[:-1]]
        assert pl.read_parquet(io.BytesIO(client.request("/export.parquet")[2])).equals(
            pl.read_ndjson(io.BytesIO(client.request("/export.jsonl")[2])))
        assert client.request("/export.xlsx")[0] == 404

        status, _, body = client.request("/status")
        cli = subprocess.run([sys.executable, "-m", "curate", "label", "status", "-s", str(tmp_path / "s")],
                             env=ENV, capture_output=True, text=True, timeout=300)
        page = re.sub(r"<[^>]+>", " ", body.decode())
        for name, value in (("labelled", "5 of 30"), ("by ann", "5"), ("undone", "1"), ("strategy", "margin")):
            assert re.search(rf"{name}\s+│?\s*{value}", cli.stdout), cli.stdout
            assert re.search(rf"{name}\s+{value}", page), page
        accuracy = re.search(r"held-out accuracy\s+│?\s*([\d.]+)", cli.stdout).group(1)
        assert re.search(rf"held-out accuracy\s+{accuracy}", page)  # the same figure the CLI gives

        def claims() -> int:
            with database(tmp_path / "s") as db:
                return db.execute("SELECT COUNT(*) FROM claims WHERE who = 'ann'").fetchone()[0]

        assert claims() > 1  # the row on the page and the queue behind it
        goodbye = json.dumps({**tab, "csrf": CSRF}).encode()  # what navigator.sendBeacon sends on pagehide
        assert client.request("/api/close", "POST", goodbye, {"Content-Type": "text/plain;charset=UTF-8"})[0] == 204
        wait_until(lambda: claims() == 0)
    assert [i for i, _, _ in active_labels(tmp_path / "s")] == labelled[:-1]


def test_labellers_hammering_the_api_at_once_never_double_a_row(tmp_path):
    truth = make_session(tmp_path / "s", n=45, batch_size=4)
    with serving(tmp_path / "s") as server:
        clients = {who: _named(server, who) for who in ("ann", "bob", "cat")}
        done: dict[str, list[str]] = {who: [] for who in clients}
        errors: list[str] = []

        def label(who: str) -> None:
            tab = {"tab": f"tab-{who}-0123456789"}
            answer = _api(clients[who], "view", tab)[1]
            while True:
                if answer.get("done"):
                    return
                if answer["row"] is None:
                    answer = _api(clients[who], "view", tab)[1]
                    continue
                row = answer["row"]
                status, answer = _api(clients[who], "label", {**tab, "row": row, "label": truth[row]})
                if status != 200 or answer["message"]:
                    errors.append(f"{who}: {status} {answer}")
                    return
                done[who].append(row)

        threads = [threading.Thread(target=label, args=(who,)) for who in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        assert errors == []
        rows = [row for who in clients for row in done[who]]
        assert sorted(rows) == sorted(truth) and len(set(rows)) == 45  # everything labelled, once
    with database(tmp_path / "s") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT pos) FROM labels").fetchone() == (45, 45)
        assert dict(db.execute("SELECT who, COUNT(*) FROM labels GROUP BY who").fetchall()) == {
            who: len(done[who]) for who in clients if done[who]}


def test_all_interfaces_warn_and_still_need_the_token(tmp_path):
    make_session(tmp_path / "s", n=20)
    with serving(tmp_path / "s", host="0.0.0.0") as server:
        printed = "".join(server.printed)
        assert "warning: listening on 0.0.0.0" in printed and "ssh -L" in printed
        assert server.url.startswith("http://127.0.0.1:")
        assert Client(server.base).request("/")[0] == 403
        assert Client(server.base).request(f"/?token={TOKEN}")[0] == 303


def _serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate", "label", "serve", *args], env=ENV, capture_output=True,
                          text=True, timeout=300)


def test_bad_serve_options_are_one_line_errors(tmp_path):
    missing = _serve("-s", str(tmp_path / "none"), "--port", "0")
    assert missing.returncode == 2 and "no labelling session in" in missing.stderr and "Traceback" not in missing.stderr
    make_session(tmp_path / "s", n=20)
    short = _serve("-s", str(tmp_path / "s"), "--token", "abc")
    assert short.returncode == 2 and "at least 16" in short.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = _serve("-s", str(tmp_path / "s"), "--port", str(taken.getsockname()[1]))
    assert busy.returncode == 2 and "cannot listen on 127.0.0.1" in busy.stderr and "--port" in busy.stderr

