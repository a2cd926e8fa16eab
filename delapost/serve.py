"""Run the whole forum: SMTP gateway, web archive and digests on one asyncio loop, the outbox
worker in a child process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import uvicorn
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from archive_web.app import ArchiveConfig, create_app
from delapost.database import NotReady, checkpoint_regularly, open_database
from delapost.health import with_health
from delapost.outbox import OutboxProcess, list_context
from delapost.schedule_spec import parse_daily, parse_weekly
from delapost.secret import read_secret
from delapost.settings import Settings
from digest.period import Period
from digest.runner import DigestConfig, DigestSender
from digest.schedule import DigestSchedule, make_scheduler
from mailgate import server as smtp_server
from mailgate.authenticate import system_dns_txt
from mailgate.config import GatewayConfig
from mailgate.held import expire_held
from mailgate.outbound.dkim_sign import load_signer
from mailgate.pipeline import Pipeline
from mailgate.smtp_handler import Handler, Limits
from models import utcnow
from models.db import make_sessionmaker, unit_of_work

log = logging.getLogger("delapost")


@dataclass(frozen=True)
class Forum:
    """What `serve` built, for whoever started it (the demo, the tests)."""

    smtp_address: tuple[str, int]
    http_address: tuple[str, int]
    factory: sessionmaker[Session]


def gateway_config(settings: Settings, secret: bytes) -> GatewayConfig:
    """What the mail gateway (and whoever publishes held posts) needs to know."""
    return GatewayConfig(
        list_domain=settings.list_domain,
        base_url=settings.base_url,
        secret=secret,
        sender_auth=settings.sender_auth,
        trusted_authserv_ids=settings.trusted_authserv_ids,
        dns_txt=system_dns_txt(settings.dns_resolver or None),
        max_attachment_bytes=settings.max_message_bytes,
        non_staff_prefixes=settings.non_staff_prefixes,
    )


def inbound_tls(settings: Settings) -> ssl.SSLContext | None:
    """STARTTLS for the gateway when a certificate and key are configured, so it can be the MX."""
    if not settings.tls_cert_file or not settings.tls_key_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(
            settings.path(settings.tls_cert_file), settings.path(settings.tls_key_file)
        )
    except (OSError, ssl.SSLError) as exc:
        raise NotReady(f"tls_cert_file/tls_key_file: cannot load them: {exc}") from exc
    return context


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn; binding here makes a port in use a plain OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(
            exc.errno, f"http_listen: cannot listen on {host}:{port}: {exc.strerror}"
        ) from None
    return sock


class _QuietUvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: `serve` owns Ctrl-C and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event,
    on_ready: Callable[[Forum], None] | None = None,
) -> None:
    """Serve until `stop` is set; then stop taking mail, finish what runs, and return."""
    engine = open_database(settings, checkpoint_on_commit=False)
    factory = make_sessionmaker(engine)
    secret = read_secret(settings.path(settings.secret_key_file))
    if settings.sender_auth == "none":
        log.warning("sender_auth = none: the From header is trusted without DKIM/DMARC")
    gateway = gateway_config(settings, secret)
    # DKIM signing happens in the outbox worker; the key is read here too, so that a key
    # that cannot be read stops `serve` at once with a clear error.
    signer = load_signer(
        settings.path(settings.dkim_key_file),
        domain=settings.list_domain,
        selector=settings.dkim_selector,
    )
    # Both listening sockets are taken before anything starts, so that a port in use ends
    # `serve` with one clear error and nothing half-running.
    tls_context = inbound_tls(settings)
    web_socket = listen_socket(*settings.http_host_port)
    smtp_host, smtp_port = settings.smtp_host_port
    pipeline = Pipeline(factory, gateway)
    limits = Limits(
        max_recipients=settings.smtp_max_recipients,
        max_messages_per_minute=settings.smtp_max_messages_per_minute,
    )
    try:
        smtp = await smtp_server.start(
            Handler(pipeline, limits=limits),
            smtp_host,
            smtp_port,
            hostname=settings.list_domain,
            max_message_bytes=settings.max_message_bytes,
            tls_context=tls_context,
            max_connections_per_client=settings.smtp_max_connections_per_client,
        )
    except BaseException:
        web_socket.close()
        raise
    confirm_task = asyncio.create_task(pipeline.watch_confirmations(stop), name="confirmations")
    checkpoint_task = asyncio.create_task(checkpoint_regularly(engine, stop), name="checkpoints")
    http_host, http_port = settings.http_host_port
    app = create_app(
        factory,
        ArchiveConfig(
            base_url=settings.base_url,
            list_domain=settings.list_domain,
            timezone=settings.timezone,
            robots_index=settings.robots_index,
            secret=secret,
        ),
    )
    site = with_health(app, factory, scheduler_running=lambda: scheduler.running, clock=utcnow)
    web = _QuietUvicorn(
        uvicorn.Config(site, host=http_host, port=http_port, log_level="warning", lifespan="off")
    )
    schedule = DigestSchedule.of(
        settings.timezone, parse_weekly(settings.digest_weekly), parse_daily(settings.digest_daily)
    )
    digests = DigestSender(factory, DigestConfig(list_context(settings, secret), schedule))
    # Digests are built on a thread of their own, so that a big one never holds up the
    # threads the SMTP gateway uses.
    digest_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest")

    async def send_digests(period: str) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(digest_thread, digests.send_due, Period(period))

    scheduler = make_scheduler(schedule, send_digests)

    async def expire_held_posts() -> None:
        def work() -> int:
            with unit_of_work(factory) as session:
                return expire_held(session, gateway, utcnow())

        expired = await asyncio.to_thread(work)
        if expired:
            log.info("%d held post(s) expired after 14 days; owners told", expired)

    scheduler.add_job(expire_held_posts, IntervalTrigger(hours=1), id="held-expiry", coalesce=True)
    scheduler.start()
    outbox = OutboxProcess(settings)
    outbox.start()
    outbox_task = asyncio.create_task(outbox.watch(stop), name="outbox")
    web_task = asyncio.create_task(web.serve(sockets=[web_socket]), name="web")
    try:
        while not web.started:
            if web_task.done():
                web_task.result()
                raise NotReady(
                    f"http_listen: the web archive did not start on {settings.http_listen}"
                )
            await asyncio.sleep(0.02)
        bound = smtp.sockets[0].getsockname()
        log.info(
            "delapost is up: SMTP %s:%d, web %s (DKIM signing %s)",
            bound[0],
            bound[1],
            settings.base_url,
            "on" if signer else "off",
        )
        if on_ready is not None:
            web_bound = web.servers[0].sockets[0].getsockname()
            on_ready(Forum((bound[0], bound[1]), (web_bound[0], web_bound[1]), factory))
        await stop.wait()
    finally:
        log.info("delapost is stopping")
        stop.set()
        await smtp.close()
        digests.stop()
        scheduler.shutdown(wait=False)
        await asyncio.to_thread(digest_thread.shutdown, wait=True, cancel_futures=True)
        web.should_exit = True
        await asyncio.gather(
            web_task, outbox_task, confirm_task, checkpoint_task, return_exceptions=True
        )
        await outbox.close()
        await asyncio.to_thread(pipeline.close)
        engine.dispose()


def run_until_signal(settings: Settings, on_ready: Callable[[Forum], None] | None = None) -> None:
    """`delapost serve`: serve until Ctrl-C or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop=stop, on_ready=on_ready)

    asyncio.run(main())
