"""`curate label ...`: start, run, inspect and export a labelling session from a terminal."""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from curate.cli.output import fail
from curate.cli.output import label_console as console

label_app = typer.Typer(no_args_is_help=True, help="Active-learning labelling sessions (SQLite, resumable).")
SESSION = typer.Option(Path("label-session"), "--session", "-s", help="Session folder.")


@label_app.command("init")
def init(data: Path = typer.Option(..., "--data", help="Rows to label (JSONL, CSV/TSV, Parquet, ...)."),  # noqa: B008
         labels: str = typer.Option(..., "--labels", help='Label names, comma-separated, e.g. "neg,neu,pos".'),
         text: str = typer.Option("text", "--text", help="Text column."),
         id_column: str | None = typer.Option(None, "--id", help="Id column (default: content ids)."),
         encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of the data file (e.g. latin-1)."),
         strategy: str = typer.Option("margin", "--strategy", help="Query strategy."),
         batch: int = typer.Option(10, "--batch", min=1, help="Rows per query."),
         features: str = typer.Option("embeddings", "--features", help="embeddings or tfidf."),
         test: Path | None = typer.Option(None, "--test", help="Held-out labelled rows for the accuracy metric."),  # noqa: B008
         test_label: str = typer.Option("label", "--test-label", help="Label column of the test set."),
         max_labels: int | None = typer.Option(None, "--max-labels", help="Label budget."),
         max_kwh: float | None = typer.Option(None, "--max-kwh", help="Energy budget (kWh)."),
         stable_share: float | None = typer.Option(None, "--stable-share", help="Stop when fewer than this share of predictions change ..."),
         stable_rounds: int = typer.Option(3, "--stable-rounds", help="... for this many rounds."),
         seed: int = typer.Option(0, "--seed"),
         session: Path = SESSION) -> None:
    """Start a labelling session over a data file."""
    try:
        from curate.active.features import FeatureConfig
        from curate.active.session import LabelingSession
        from curate.active.stopping import StopConfig
        from curate.config import InputConfig
        from curate.errors import ConfigError
        from curate.io.readers import read_input

        sources = FeatureConfig.model_fields["source"].annotation.__args__
        if features not in sources:
            raise ConfigError(f"--features '{features}' is not one of: {', '.join(sources)}", hint="see curate label init --help")
        frame = read_input(InputConfig(path=data, text=text, id=id_column, encoding=encoding)).frame
        test_frame = read_input(InputConfig(path=test, text=text, encoding=encoding)).frame if test is not None else None
        stop = StopConfig(max_labels=max_labels, max_kwh=max_kwh, stable_share=stable_share, stable_rounds=stable_rounds)
        created = LabelingSession.create(
            session, frame, labels.split(","), id="id" if id_column else None, strategy=strategy, batch_size=batch,
            features=FeatureConfig(source=features), test=test_frame, test_label=test_label, stop=stop, seed=seed)
    except Exception as exc:  # noqa: BLE001 - fail decides how to show it
        fail(exc)
    console.print(f"session {escape(str(session))}: {len(created.ids_)} rows to label as {', '.join(created.labels)} "
                  f"(strategy {created.strategy}); next: curate label next -s {escape(str(session))}")


def answer_keys(labels: list[str]) -> dict[str, int]:
    """Keys 1..k, and each label's first letter where it is unique and not s/u/q."""
    keys = {str(i + 1): i for i in range(min(len(labels), 9))}
    firsts = [label[0].lower() for label in labels]
    for index, letter in enumerate(firsts):
        if firsts.count(letter) == 1 and letter not in "suq" and not letter.isdigit():
            keys[letter] = index
    return keys


def _key_reader(labels: list[str]):
    """One key press at a terminal; from a pipe or file, one line per answer (a key or a label name).

    The end of piped input reads as ``q``.
    """
    import click

    if sys.stdin.isatty():
        return click.getchar
    names = {name.lower(): name for name in labels}

    def read_line() -> str:
        line = sys.stdin.readline()
        if not line:
            return "q"
        answer = line.strip()
        return names.get(answer.lower(), answer)

    return read_line


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP end the loop like q does, so claims are given back."""

    def stop(signum, _frame):
        raise KeyboardInterrupt

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)


@label_app.command("next")
def next_(session: Path = SESSION,
          batch: int | None = typer.Option(None, "--batch", min=1, help="Rows per query (default: the session's)."),
          who: str | None = typer.Option(None, "--who", help="Your name, stored with each label.")) -> None:
    """Label interactively: keys pick the label, s skips, u undoes, q quits.

    Without a terminal (input from a pipe or a file) each line is one answer: a key or a
    label's name; the end of the input quits. Claimed rows are given back however it ends.
    """
    from curate.active.session import LabelingSession

    try:
        labeling = LabelingSession(session, who=who)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
    keys = answer_keys(labeling.labels)
    read_key = _key_reader(labeling.labels)
    answers = {**keys, **{name: index for index, name in enumerate(labeling.labels)}}
    by_index: dict[int, list[str]] = {}
    for key, index in keys.items():
        by_index.setdefault(index, []).append(key)
    legend = "  ".join(f"[{'/'.join(by_index[i])}] {name}" for i, name in enumerate(labeling.labels))
    legend = escape(legend + "  [s] skip  [u] undo  [q] quit")
    state = _Loop()
    resume = f"resume with curate label next -s {escape(str(session))}"
    _stop_on_signals()
    try:
        quit_ = _label_loop(labeling, state, keys, answers, legend, read_key, batch)
    except KeyboardInterrupt:
        console.print(f"interrupted: {state.done} labelled this time; {resume}")
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - fail decides how to show it
        fail(exc)
    finally:
        labeling.release(state.queue)
    console.print(f"quit: {state.done} labelled this time; {resume}" if quit_ else f"done: {state.done} labelled this time")


@dataclass
class _Loop:
    """The labelling loop's state: rows claimed and not answered yet, rows skipped, labels given."""

    queue: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    done: int = 0


def _label_loop(labeling, state: _Loop, keys, answers, legend, read_key, batch) -> bool:
    """Ask for labels until the stopping criterion, an empty pool or ``q`` (then returns True)."""
    from curate.errors import InputError

    queue, skipped = state.queue, state.skipped
    while True:
        reason = labeling.stop_reason()
        if reason is not None:
            console.print(f"stopping criterion met: {reason}")
            break
        try:
            queue[:] = labeling.query(batch, exclude=skipped)
        except InputError as exc:
            console.print(f"nothing left to label: {exc.message}")
            break
        while queue:
            row_id = queue[0]
            labelled = len(labeling.store.labelled())
            console.print(f"\n[bold]({labelled}/{len(labeling.ids_)} labelled)[/] {escape(row_id)}")
            console.print(escape(labeling.texts([row_id])[0]))
            console.print(legend)
            key = read_key()
            if key in answers:
                labeling.teach([row_id], [answers[key]])
                console.print(f"-> {escape(labeling.labels[answers[key]])}")
                queue.pop(0)
                state.done += 1
            elif key == "s":
                labeling.release([row_id])
                skipped.append(row_id)
                queue.pop(0)
                console.print("skipped")
            elif key == "u":
                undone = labeling.undo()
                if undone is None:
                    console.print("nothing to undo")
                else:
                    console.print(f"undone: {escape(undone)}")
                    queue.insert(0, undone)
                    state.done -= 1
            elif key in ("q", "\x03", "\x04"):
                return True
            else:
                console.print(f"unknown key {key!r}: use {', '.join(keys)} for a label, s, u or q")
    return False


@label_app.command("status")
def status(session: Path = SESSION) -> None:
    """Counts per label and labeller, rounds, held-out accuracy, energy, stopping state."""
    from curate.active.session import LabelingSession

    try:
        metrics = LabelingSession(session).metrics()
    except Exception as exc:  # noqa: BLE001
        fail(exc)
    table = Table(title=f"labelling session {session}", show_header=False)
    accuracy = "n/a (no test set)" if metrics["accuracy"] is None else f"{metrics['accuracy']:.4f}"
    rows = [("labelled", f"{metrics['labelled']:,} of {metrics['pool']:,}"),
            *((f"  {name}", f"{count:,}") for name, count in metrics["per_label"].items()),
            *((f"  by {name}", f"{count:,}") for name, count in metrics["labellers"].items()),
            ("undone", f"{metrics['undone']:,}"), ("rounds", f"{metrics['rounds']:,}"), ("strategy", metrics["strategy"]),
            ("held-out accuracy", accuracy),
            ("predictions changed last round", "n/a" if metrics["changed"] is None else f"{metrics['changed']:.4f}"),
            ("energy (estimated)", f"{metrics['kwh']:.3g} kWh"), ("stop", metrics["stop"] or "not yet")]
    for name, value in rows:
        table.add_row(escape(name), escape(str(value)))
    console.print(table)


@label_app.command("export")
def export(out: Path = typer.Option(..., "--out", "-o", help="Output file: .csv, .jsonl or .parquet."),  # noqa: B008
           session: Path = SESSION) -> None:
    """Write every label (id, text, label, who, at, round)."""
    from curate.active.session import LabelingSession
    from curate.errors import OutputError
    from curate.io.writers import atomic_write

    try:
        writers = {".csv": "write_csv", ".jsonl": "write_ndjson", ".parquet": "write_parquet"}
        if out.suffix not in writers:
            raise OutputError(f"cannot tell the format of {out}", hint="end it with .csv, .jsonl or .parquet")
        if not out.parent.is_dir():
            raise OutputError(f"folder {out.parent} does not exist", hint=f"create it first (mkdir -p {out.parent}) or pick another --out")
        frame = LabelingSession(session).export()
        with atomic_write(out) as handle:
            getattr(frame, writers[out.suffix])(handle)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
    console.print(f"{frame.height:,} labels written to {escape(str(out))}")


@label_app.command("serve")
def serve(session: Path = SESSION,
          host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
          port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port (0 picks a free one)."),
          token: str | None = typer.Option(None, "--token", envvar="CURATE_TOKEN",
                                           help="Access token (default: a random one, printed in the URL)."),
          open_browser: bool = typer.Option(False, "--open", help="Open the page in a browser."),
          batch: int | None = typer.Option(None, "--batch", min=1, help="Rows per query (default: the session's)."),
          tab_timeout: float = typer.Option(120.0, "--tab-timeout", min=1,
                                            help="Seconds without a heartbeat before a page counts as closed."),
          release_after: float = typer.Option(15.0, "--release-after", min=0,
                                              help="Seconds a labeller may have no page open before their claims are released."),
          heartbeat: float = typer.Option(15.0, "--heartbeat", min=0.2, help="Seconds between a page's heartbeats.")) -> None:
    """Label in a browser: a local page with one key per label, the model retraining behind it."""
    try:
        from curate.active import server

        token = server.check_token(token) if token else server.make_token()
        options = server.ServeOptions(batch_size=batch, tab_timeout=tab_timeout, release_after=release_after,
                                      heartbeat=heartbeat)
        sock = server.bind(host, port)
        bound = sock.getsockname()[1]
        app = server.create_app(session, token, bound, options)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
    address = server.url(host, bound, token)
    if not server.is_local(host):
        console.print(f"[bold yellow]warning:[/] listening on {escape(host)}: anyone who can reach this machine on port "
                      f"{bound} can open the page with the token. On a remote machine prefer the default 127.0.0.1 and "
                      f"an SSH tunnel: ssh -L {bound}:127.0.0.1:{bound} <host>")
    console.print(f"labelling session {escape(str(session))} at\n    {address}\n(Ctrl-C stops the server; labels are saved as you go)",
                  soft_wrap=True)
    if open_browser:
        import webbrowser

        webbrowser.open(address)
    try:
        server.run(app, sock)
    except KeyboardInterrupt:  # uvicorn stopped cleanly, then passed Ctrl-C on
        pass
    console.print("stopped; every label is saved and every claim released")
