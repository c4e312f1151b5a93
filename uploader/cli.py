"""``gait-upload``: the clinic's uploader client (capture, import, on-disk queue, resumable upload).

Commands: ``login``, ``devices``, ``record``, ``import``, ``queue``, ``push``, ``status``. Errors are
one short line plus what to do next; ``--verbose`` adds the details (HTTP retries, tracebacks of
unexpected errors). Exit codes: :mod:`uploader.errors` and uploader/README.md.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import __version__
from . import config as cfg
from .errors import EXIT_REJECTED, AuthError, DeviceError, ImportFailed, Rejected, Unavailable, UploaderError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class _Group(click.Group):
    """Turns every UploaderError into its message, hint and exit code (no traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UploaderError as exc:
            err_console.print(f"[bold red]error:[/] {exc.message}")
            if exc.hint:
                err_console.print(f"[yellow]what to do:[/] {exc.hint}")
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the last resort: short, with how to get details
            if ctx.obj and ctx.obj.get("verbose"):
                err_console.print_exception()
            err_console.print(f"[bold red]unexpected error:[/] {type(exc).__name__}: {exc}")
            err_console.print("[yellow]what to do:[/] run again with --verbose and send the output to support")
            ctx.exit(1)


@click.group(cls=_Group, help="Record or import gait sessions and upload them to the gait platform.")
@click.version_option(__version__, prog_name="gait-upload")
@click.option("-v", "--verbose", is_flag=True, help="Show details: HTTP retries, tracebacks.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    ctx.ensure_object(dict)["verbose"] = verbose
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _api(conf: cfg.Config, **kw):
    from .client import Api

    def on_retry(reason: str, pause: float) -> None:
        err_console.print(f"[dim]{reason}; retrying in {pause:.1f} s[/]")

    return Api(conf.server, conf.token, on_retry=on_retry, **kw)


def _queue():
    from .queue import Queue

    return Queue(cfg.queue_path())


# --- login -----------------------------------------------------------------------------------------
@main.command()
@click.option("--server", required=True, help="The platform's address, e.g. https://gait.example.org")
@click.option("--token", envvar="GAIT_UPLOAD_TOKEN", prompt=True, hide_input=True,
              help="Your organisation's API token (or the GAIT_UPLOAD_TOKEN variable; prompted if absent).")
@click.option("--keep-days", type=int, default=7, show_default=True,
              help="Keep session files this many days after the server confirmed them (-1: forever).")
def login(server: str, token: str, keep_days: int) -> None:
    """Check the token against the server and store the configuration (mode 0600)."""
    from .backoff import Backoff

    if not server.startswith(("http://", "https://")):
        raise UploaderError(f"the server address {server!r} must start with https:// (or http://)",
                            "copy the address from the platform's web page", exit_code=2)
    conf = cfg.Config(server=server.rstrip("/"), token=token.strip(), keep_days=keep_days)
    api = _api(conf, backoff=Backoff(base=0.5, cap=2.0, attempts=3))
    me = api.me()
    org = me.get("organisation", {})
    conf.organisation = org.get("name") or org.get("slug") or ""
    path = cfg.save(conf)
    console.print(f"Logged in to [bold]{conf.organisation}[/] as {me.get('role')} at {conf.server}")
    console.print(f"Configuration saved to {path} (readable only by you)")
    if me.get("role") not in ("owner", "admin", "clinician"):
        err_console.print(f"[yellow]warning:[/] a {me.get('role')} token cannot upload; ask for a clinician token")


# --- devices -------------------------------------------------------------------------------------
@main.command()
def devices() -> None:
    """List connected Azure Kinect devices (or say what to install)."""
    from .capture import list_devices

    found = list_devices()
    if not found:
        raise DeviceError("the Azure Kinect SDK is installed but no device is connected",
                          "connect the camera (USB 3 port, power supply) and run gait-upload devices again")
    table = Table("index", "serial number")
    for d in found:
        table.add_row(str(d["index"]), d["serial"])
    console.print(table)


# --- record ----------------------------------------------------------------------------------------
class _RichUI:
    """The recorder's display: task, countdown, frame rate and whether a body is tracked."""

    def __init__(self) -> None:
        self.live = None
        self.tty = console.is_terminal

    def announce(self, index, total, task, duration_s) -> None:
        self._stop()
        console.rule(f"Task {index + 1}/{total}: {task.task} ({duration_s:.0f} s)")
        console.print(task.instruction)

    def countdown(self, seconds_left: int) -> None:
        console.print(f"  starting in {seconds_left} ...")

    def frame(self, stats) -> None:
        if not self.tty:
            return
        from rich.live import Live
        from rich.text import Text

        body = "[green]body tracked[/]" if stats.body_tracked else "[red]no body in view[/]"
        text = Text.from_markup(f"  {stats.elapsed_s:5.1f}/{stats.duration_s:.0f} s   {stats.fps:5.1f} fps   "
                                f"{body}   frames {stats.frames}")
        if self.live is None:
            self.live = Live(text, console=console, refresh_per_second=10, transient=True)
            self.live.start()
        else:
            self.live.update(text)

    def task_saved(self, task: str, frames: int, path) -> None:
        self._stop()
        console.print(f"  [green]saved[/] {task}: {frames} frames -> {path.name}")

    def _stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


@main.command()
@click.option("--subject", required=True, help="The subject's pseudonym (never a name).")
@click.option("--protocol", default="hpp", show_default=True, type=click.Choice(["hpp"]))
@click.option("--simulate", is_flag=True, help="Use a simulated camera streaming synthetic frames at 30 Hz.")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Simulation speed-up (0: as fast as possible); only with --simulate.")
@click.option("--duration-scale", type=float, default=1.0, show_default=True,
              help="Multiply every task's duration (training runs, tests).")
@click.option("--countdown", type=int, default=3, show_default=True, help="Seconds of countdown before each task.")
@click.option("--seed", type=int, default=0, help="Synthetic subject to simulate (with --simulate).")
@click.option("--device-index", type=int, default=0, show_default=True)
def record(subject: str, protocol: str, simulate: bool, speed: float, duration_scale: float, countdown: int,
           seed: int, device_index: int) -> None:
    """Record the protocol for one subject, task by task, and queue the session."""
    from .capture import KinectSource, load_sdk
    from .record import Recorder
    from .simulate import SimulatedSource

    _check_subject(subject)
    if simulate:
        source = SimulatedSource(seed=seed, subject_index=seed, speed=speed)
    else:
        source = KinectSource(device_index, pykinect=load_sdk())
    with _queue() as q:
        rec = Recorder(source, subject=subject, protocol=protocol, queue=q, out_dir=cfg.sessions_dir(),
                       duration_scale=duration_scale, countdown_s=countdown, ui=_RichUI())
        try:
            item = rec.run()
        except KeyboardInterrupt:
            saved = q.get(rec.item.id).tasks if rec.item else []
            err_console.print(f"[yellow]interrupted:[/] the task in progress was not saved; saved tasks: {saved or 'none'}")
            if rec.item and saved:
                err_console.print(f"to upload them: gait-upload queue --retry {rec.item.id}")
            raise SystemExit(130) from None
    console.print(f"Session {item.id} queued: {len(item.tasks)} tasks, {item.size / 1e6:.1f} MB. "
                  "Upload it with: gait-upload push")


def _check_subject(subject: str) -> None:
    """Refuse an unknown subject before recording when the server can tell; offline is fine."""
    from .backoff import Backoff

    try:
        conf = cfg.load()
    except UploaderError:
        return
    try:
        _api(conf, backoff=Backoff(attempts=1)).subject_pk(subject)
    except Rejected:
        raise  # a typo in the pseudonym: better said now than after the recording
    except Unavailable as exc:
        what = "is unreachable" if exc.kind == "network" else "is failing on its side"
        err_console.print(f"[yellow]warning:[/] the server {what}; recording anyway (push uploads later)")
    except AuthError as exc:
        err_console.print(f"[yellow]warning:[/] {exc.message}; recording anyway: log in again before pushing")


# --- import ----------------------------------------------------------------------------------------
def _formats() -> list[str]:
    from gaitcore.importers import FORMATS

    return list(FORMATS)


def _tasks() -> list[str]:
    from gaitcore.schemas import TASKS

    return list(TASKS)


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(_formats()), help="The recordings' format.")
@click.option("--subject", required=True, help="The subject's pseudonym.")
@click.option("--task", type=click.Choice(_tasks()), default=None, help="The protocol task the recordings hold.")
def import_(files: tuple[Path, ...], fmt: str, subject: str, task: str | None) -> None:
    """Convert existing recordings (files or folders) to session files and queue them."""
    from gaitcore.errors import SDKNotInstalledError, ValidationError
    from gaitcore.importers import iter_recordings, read_recording
    from gaitcore.sessionfile import write_session

    from .capture import INSTALL_HELP
    from .client import file_sha256
    from .record import session_filename

    sessions = [f for f in files if f.name.endswith(SESSION_SUFFIX)]
    if sessions:
        raise ImportFailed(f"{sessions[0]} is already a session file ({SESSION_SUFFIX}), not a {fmt} recording",
                           f"queue it as it is: gait-upload add {sessions[0]}")
    paths = list(iter_recordings(files, fmt))
    if not paths:
        raise ImportFailed(f"no {fmt} recordings found in {', '.join(map(str, files))}",
                           "check the folder and the --format")
    failed = 0
    with _queue() as q:
        for p in paths:
            try:
                res = read_recording(p, fmt, subject=subject, task=task)
            except SDKNotInstalledError as exc:
                raise DeviceError(f"cannot read {p.name}: the Azure Kinect SDK is not installed",
                                  f"{INSTALL_HELP} Or convert it with offline_processor and use --format azure-json."
                                  ) from exc
            except ValidationError as exc:
                failed += 1
                err_console.print(f"[red]rejected[/] {p}: {exc}")
                continue
            out = write_session(res.session, cfg.sessions_dir() / session_filename(subject))
            tasks = [s.task for s in res.session.tasks]
            item = q.add(out, subject, tasks=tasks, size=out.stat().st_size, sha256=file_sha256(out), source="import")
            console.print(f"[green]{res.status}[/] {p} -> queue item {item.id} ({res.session.n_frames} frames, "
                          f"tasks {tasks or 'none'})")
            for w in res.warnings:
                console.print(f"  [yellow]note:[/] {w}")
    if failed:
        raise ImportFailed(f"{failed} of {len(paths)} recordings could not be imported (see above)",
                           "fix or leave out those files; the others are queued")


SESSION_SUFFIX = ".gait.npz"


@main.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--subject", default=None, help="The subject's pseudonym (default: the one in the file).")
def add(files: tuple[Path, ...], subject: str | None) -> None:
    """Queue existing session files (.gait.npz: the platform's own format, e.g. from `gaitfm synth`)."""
    import shutil

    from gaitcore.errors import ValidationError
    from gaitcore.sessionfile import read_session

    from .client import file_sha256
    from .record import session_filename

    failed = 0
    with _queue() as q:
        for f in files:
            try:
                session = read_session(f)  # checks the format, the arrays and their checksum
            except (ValidationError, ValueError, OSError) as exc:
                failed += 1
                err_console.print(f"[red]rejected[/] {f}: not a readable session file ({exc})")
                continue
            who = subject or session.subject
            if subject and subject != session.subject:
                from gaitcore.sessionfile import write_session

                session.subject = subject  # the pseudonym the platform knows; the arrays are unchanged
                out = write_session(session, cfg.sessions_dir() / session_filename(who))
            else:
                out = cfg.sessions_dir() / session_filename(who)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, out)  # the queue owns its copy (push deletes it once uploaded)
            tasks = [t.task for t in session.tasks]
            item = q.add(out, who, tasks=tasks, size=out.stat().st_size, sha256=file_sha256(out), source="file")
            console.print(f"[green]queued[/] {f} -> queue item {item.id} (subject {who}, {session.n_frames} frames, "
                          f"tasks {tasks or 'none'})")
    if failed:
        raise ImportFailed(f"{failed} of {len(files)} files are not session files (see above)",
                           f"`gait-upload add` takes {SESSION_SUFFIX} files; other formats: `gait-upload import --format`")


# --- queue -----------------------------------------------------------------------------------------
@main.command("queue")
@click.option("--retry", "retry_id", type=int, default=None,
              help="Queue item ID again (a rejected session after fixing the cause, or an interrupted recording).")
@click.option("--all", "show_all", is_flag=True, help="Also list uploaded sessions whose file was deleted.")
def queue_cmd(retry_id: int | None, show_all: bool) -> None:
    """List the sessions on this machine and their upload state."""
    from .queue import InvalidTransition

    with _queue() as q:
        if retry_id is not None:
            try:
                item = q.retry(retry_id)
            except KeyError:
                raise UploaderError(f"there is no queue item {retry_id}", "see gait-upload queue", exit_code=2) from None
            except InvalidTransition as exc:
                raise UploaderError(str(exc), "only rejected items and interrupted recordings can be retried",
                                    exit_code=2) from None
            console.print(f"Item {item.id} queued again; run gait-upload push")
            return
        items = [i for i in q.list() if show_all or not i.file_deleted]
    if not items:
        console.print("The queue is empty.")
        return
    table = Table("id", "subject", "tasks", "state", "progress", "created", "details")
    for i in items:
        progress = f"{100 * i.offset / i.size:.0f}%" if i.size and i.state in ("uploading", "uploaded") else ""
        details = i.error if i.state == "rejected" else (f"server session {i.server_session}" if i.server_session else "")
        if i.state == "recording":
            details = "interrupted or in progress; saved tasks can be queued with --retry"
        table.add_row(str(i.id), i.subject, str(len(i.tasks)), i.state, progress,
                      datetime.fromtimestamp(i.created_at).strftime("%Y-%m-%d %H:%M"), details)
    console.print(table)


# --- push ------------------------------------------------------------------------------------------
@main.command()
@click.option("--chunk-size", type=click.IntRange(1024, 16 * 1024 * 1024), default=1024 * 1024, show_default=True,
              help="Bytes per chunk.")
@click.option("--mode", type=click.Choice(["chunked", "s3-multipart"]), default="chunked", show_default=True,
              help="chunked: through the API (any server); s3-multipart: parts straight to S3 through presigned "
                   "URLs (servers with S3 storage; large files). Resumed uploads keep their mode.")
@click.option("--allow-duplicate", is_flag=True,
              help="Store a file again even if the organisation already has the same content as a session "
                   "(by default the server answers with that session and nothing is sent).")
def push(chunk_size: int, mode: str, allow_duplicate: bool) -> None:
    """Upload every pending session (resumable; safe to interrupt and run again)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from .push import push_all

    conf = cfg.load()
    api = _api(conf)
    with _push_lock(), _queue() as q:
        if not q.pending():
            console.print("Nothing to upload.")
            from .push import apply_retention

            apply_retention(q, conf.keep_days)
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=console,
                      transient=not console.is_terminal) as bars:
            tasks: dict[int, int] = {}

            def progress(item, done, size):
                if item.id not in tasks:
                    tasks[item.id] = bars.add_task(f"{item.id} {item.subject}", total=size)
                bars.update(tasks[item.id], completed=done)

            def rejected(item, exc):
                err_console.print(f"[red]rejected[/] item {item.id} ({item.subject}): {exc.message}")
                err_console.print(f"  [yellow]what to do:[/] {exc.hint or 'fix the cause, then: gait-upload queue --retry ' + str(item.id)}")

            def uploaded(item):
                if item.error_code == "duplicate":
                    console.print(f"[green]already on the server[/] item {item.id} ({item.subject}): same content as "
                                  f"server session {item.server_session}; nothing sent")
                    return
                console.print(f"[green]uploaded[/] item {item.id} ({item.subject}) -> server session {item.server_session}")

            report = push_all(api, q, keep_days=conf.keep_days, chunk_size=chunk_size, mode=mode, progress=progress,
                              on_rejected=rejected, on_uploaded=uploaded, allow_duplicate=allow_duplicate)
    console.print(f"{len(report.uploaded)} uploaded, {len(report.rejected)} rejected"
                  + (f", {len(report.deleted)} local files deleted" if report.deleted else "")
                  + (f", {api.retries} retries" if api.retries else ""))
    if report.rejected:
        raise SystemExit(EXIT_REJECTED)


@contextlib.contextmanager
def _push_lock():
    """One push at a time per client folder (an advisory lock the OS releases if the process dies)."""
    try:
        import fcntl
    except ImportError:  # Windows: the server's offset checks still keep concurrent pushes correct
        yield
        return
    with open(cfg.home() / "push.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UploaderError("another gait-upload push is running on this machine",
                                "wait for it to finish (see gait-upload queue)") from None
        yield


# --- status ----------------------------------------------------------------------------------------
@main.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def status(limit: int) -> None:
    """The server's processing status of the organisation's recent sessions."""
    conf = cfg.load()
    sessions = _api(conf).recent_sessions(limit)
    with _queue() as q:
        waiting = len(q.pending())
    if not sessions:
        console.print("The server has no sessions yet.")
    else:
        table = Table("session", "subject", "tasks", "duration", "status", "reason", "uploaded")
        for s in sessions:
            table.add_row(str(s["id"]), s.get("subject_external_id", ""), str(len(s.get("tasks", []))),
                          f"{s.get('duration_s', 0):.0f} s", s["status"], s.get("status_reason") or "",
                          (s.get("created_at") or "")[:16].replace("T", " "))
        console.print(table)
    if waiting:
        console.print(f"{waiting} session(s) on this machine wait for upload: gait-upload push")


