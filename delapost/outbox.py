"""The outbox worker in a process of its own, watched over by `serve`.

Composing and signing copies is CPU work: a post to a topic of 17,000 members keeps a core busy
for most of a minute. In the gateway's process it would take the GIL from the SMTP sessions
for all that time, so the worker runs in a child process with its own interpreter and
database connection. The database is the only thing the two share: the gateway queues rows,
the worker claims and sends them. The child's log lines come back to the parent's handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

from delapost.database import open_database
from delapost.secret import read_secret
from delapost.settings import Settings, split_host_port
from mailgate.outbound import EmlDirectory, ListContext, OutboxWorker, SmtpRelay, Transport
from mailgate.outbound.dkim_sign import load_signer
from models.db import make_sessionmaker

log = logging.getLogger("delapost.outbox")

# How long a worker that stops gets to finish the copies it is sending, and how long
# `serve` waits before it starts a worker again after one died: longer after each death in
# a row, and from the start again once a worker has run for HEALTHY_AFTER seconds.
STOP_WITHIN = 30.0
RESTART_AFTER = (1.0, 5.0, 30.0)
HEALTHY_AFTER = 300.0
# When the machine is busy, the SMTP sessions get the CPU before the worker does.
NICENESS = 10


def make_transport(settings: Settings) -> Transport:
    if not settings.relay:
        return EmlDirectory(settings.path(settings.outbox_dir))
    host, port = split_host_port(settings.relay, "relay")
    return SmtpRelay(
        host,
        port,
        tls=settings.relay_tls,
        username=settings.relay_username,
        password=settings.relay_password,
    )


def list_context(settings: Settings, secret: bytes) -> ListContext:
    """What composing any mail from the forum needs: its domain, web address and secret."""
    return ListContext(
        settings.list_domain,
        settings.base_url,
        secret,
        attachment_link_bytes=settings.attachment_link_bytes,
    )


class OutboxProcess:
    """Starts the worker's process, starts it again if it dies, and stops it on `close`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._context: SpawnContext = multiprocessing.get_context("spawn")
        self._stop: Event = self._context.Event()
        self._logs: Queue[logging.LogRecord | None] = self._context.Queue()
        self._process: SpawnProcess | None = None
        self._started = 0.0  # time.monotonic() of the last start
        self._forwarder = threading.Thread(
            target=_forward_logs, args=(self._logs,), name="outbox-logs", daemon=True
        )

    def start(self) -> None:
        if not self._forwarder.is_alive():
            self._forwarder.start()
        self._process = self._context.Process(
            target=run_child,
            args=(self._settings, self._stop, self._logs, _lowest_level()),
            name="delapost-outbox",
            daemon=True,
        )
        self._process.start()
        self._started = time.monotonic()

    async def watch(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Until `stop`: start the worker again whenever its process has ended."""
        deaths = 0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            process = self._process
            if stop.is_set() or process is None or process.is_alive():
                continue
            if time.monotonic() - self._started > HEALTHY_AFTER:
                deaths = 0  # a worker that ran a while died of something new
            wait = RESTART_AFTER[min(deaths, len(RESTART_AFTER) - 1)]
            deaths += 1
            log.error(
                "the outbox worker stopped (exit code %s); starting it again in %g s",
                process.exitcode,
                wait,
            )
            process.close()
            self._process = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if not stop.is_set():
                self.start()

    async def close(self) -> None:
        """Ask the worker to finish what it is sending and wait for it; then end the logs."""
        self._stop.set()
        process = self._process
        if process is not None:
            await asyncio.to_thread(process.join, STOP_WITHIN)
            if process.is_alive():
                log.warning("the outbox worker did not stop within %g s; ending it", STOP_WITHIN)
                process.kill()
                await asyncio.to_thread(process.join, 5.0)
            process.close()
            self._process = None
        if self._forwarder.is_alive():
            self._logs.put(None)
            await asyncio.to_thread(self._forwarder.join, 5.0)
        self._logs.close()
        self._logs.join_thread()


def _lowest_level() -> int:
    """The level the worker logs at: the lowest any of our loggers here wants."""
    names = ("", "delapost", "mailgate")
    return min(logging.getLogger(name).getEffectiveLevel() for name in names)


def _forward_logs(records: Queue[logging.LogRecord | None]) -> None:
    """In `serve`: hand the worker's log records to this process's loggers and handlers."""
    while True:
        try:
            record = records.get()
        except (EOFError, OSError):
            return
        if record is None:
            return
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


def run_child(
    settings: Settings,
    stop: Event,
    records: Queue[logging.LogRecord | None],
    level: int,
) -> None:
    """The worker process: send what is due until `stop` is set or `serve` is gone."""
    # Ctrl-C reaches the whole process group; `serve` decides when the worker stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A copy may leave a moment later; a sender waiting for our 250 should not wait.
    os.nice(NICENESS)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(level)
    try:
        asyncio.run(_work(settings, stop))
    except Exception:
        log.exception("the outbox worker failed")
        raise SystemExit(1) from None


async def _work(settings: Settings, stop_event: Event) -> None:
    engine = open_database(settings)
    secret = read_secret(settings.path(settings.secret_key_file))
    signer = load_signer(
        settings.path(settings.dkim_key_file),
        domain=settings.list_domain,
        selector=settings.dkim_selector,
    )
    transport = make_transport(settings)
    worker = OutboxWorker(
        make_sessionmaker(engine), list_context(settings, secret), transport, signer=signer
    )
    log.info("outbox worker started (pid %d)", os.getpid())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    parent = os.getppid()

    async def until_told() -> None:
        while not stop.is_set():
            if stop_event.is_set() or os.getppid() != parent:
                stop.set()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)

    watcher = asyncio.create_task(until_told())
    try:
        await worker.run(stop)
    finally:
        stop.set()
        await watcher
        close = getattr(transport, "close", None)
        if close is not None:
            await close()
        engine.dispose()
