"""The `delapost` command: set up, run and administer the forum."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from tqdm import tqdm

from delapost import admin
from delapost.admin import AdminError
from delapost.database import NotReady, open_database
from delapost.member_import import import_members, read_rows
from delapost.schedule_spec import parse_daily, parse_weekly
from delapost.secret import MissingSecret, create_secret, read_secret
from delapost.settings import Settings, SettingsError, find_config_file, load
from digest.period import Period
from digest.preview import preview_letter, queue_preview
from digest.runner import DigestConfig, DigestSender, Status
from digest.schedule import DigestSchedule
from mailgate import held
from mailgate.config import GatewayConfig
from mailgate.held import HeldError
from mailgate.outbound import ListContext
from mailgate.outbound.dkim_keys import generate_key, zone_file_line
from models import Mode, registry, utcnow
from models.db import make_engine, make_sessionmaker, unit_of_work, upgrade

log = logging.getLogger("delapost")

MODES = [m.value for m in Mode]
_ADDRESS = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line instead of argparse's usage block: what is wrong, and where help is.
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _settings(args: argparse.Namespace) -> Settings:
    return load(find_config_file(args.config, os.environ))


@contextmanager
def _session(args: argparse.Namespace) -> Iterator[Session]:
    """One transaction on the configured database, which `delapost init` must have set up."""
    engine = open_database(_settings(args))
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


def cmd_init(args: argparse.Namespace) -> None:
    settings = _settings(args)
    url = settings.database_url_resolved
    engine = make_engine(url)
    try:
        upgrade(engine)
        with unit_of_work(make_sessionmaker(engine)) as session:
            added = registry.load(session, registry.shipped_rows())
    finally:
        engine.dispose()
    secret_path = settings.path(settings.secret_key_file)
    made = create_secret(secret_path)
    shown = make_url(url).render_as_string(hide_password=True)
    print(f"Database ready: {shown} ({added} public-sector domains added).")
    print(f"Secret {'created in' if made else 'kept in'} {secret_path}.")


def cmd_serve(args: argparse.Namespace) -> None:
    from delapost.serve import run_until_signal

    run_until_signal(_settings(args))


def cmd_demo(args: argparse.Namespace) -> None:
    from delapost.demo import run_demo

    run_demo(args.dir, serve_after=not args.no_serve)


def cmd_topic_add(args: argparse.Namespace) -> None:
    with _session(args) as session:
        topic = admin.add_topic(
            session, args.slug, args.name, args.description, utcnow(), tuple(args.owner)
        )
        settings = _settings(args)
        print(f"Topic {topic.slug} added: post to {topic.slug}@{settings.list_domain}")


def cmd_topic_list(args: argparse.Namespace) -> None:
    with _session(args) as session:
        lines = admin.list_topics(session)
    if not lines:
        print("No topics yet; add one with 'delapost topic add SLUG --name NAME'.")
    for line in lines:
        print(f"{line.slug}\t{line.name}\t{line.members} members\t{line.posts} posts")


def cmd_member_add(args: argparse.Namespace) -> None:
    if args.mode and not args.topic:
        raise AdminError("--mode goes with --topic")
    with _session(args) as session:
        member = admin.add_member(
            session,
            args.email,
            args.name,
            utcnow(),
            topic_slug=args.topic,
            mode=Mode(args.mode) if args.mode else None,
            non_staff_prefixes=_settings(args).non_staff_prefixes,
        )
        org = member.organization.name if member.organization else "?"
        where = f" in {args.topic}" if args.topic else ""
        print(f"Member {member.email} ({org}) added{where}.")


def cmd_member_import(args: argparse.Namespace) -> None:
    settings = _settings(args)
    rows = read_rows(Path(args.file))
    with _session(args) as session:
        progress = tqdm(total=len(rows), unit="row", desc="import", file=sys.stderr, disable=None)
        summary = import_members(
            session,
            rows,
            args.topic,
            utcnow(),
            non_staff_prefixes=settings.non_staff_prefixes,
            on_row=lambda: progress.update(),
        )
        progress.close()
        for line, email, reason in summary.refused:
            print(f"line {line}: {email or '(no address)'}: {reason}", file=sys.stderr)
        if summary.refused and not args.skip_refused:
            raise AdminError(
                f"{len(summary.refused)} row(s) refused, so nothing was imported; "
                "fix them, or pass --skip-refused to import the rest"
            )
    print(
        f"{args.topic}: {summary.added} added, {summary.changed} changed, "
        f"{summary.unchanged} unchanged, {len(summary.refused)} refused."
    )


def cmd_member_list(args: argparse.Namespace) -> None:
    with _session(args) as session:
        lines = admin.list_members(session, args.topic)
    if not lines:
        print("No members.")
    for line in lines:
        print(f"{line.email}\t{line.name}\t{line.organization}\t{line.topics}")


def cmd_org_add(args: argparse.Namespace) -> None:
    with _session(args) as session:
        row = admin.add_org_domain(session, args.domain, args.name, args.kind)
        print(f"{row.domain} now belongs to {args.name.strip()}.")


def cmd_org_list(args: argparse.Namespace) -> None:
    with _session(args) as session:
        for domain, name, kind in admin.list_orgs(session):
            print(f"{domain}\t{name}\t{kind}")


def cmd_org_remove(args: argparse.Namespace) -> None:
    with _session(args) as session:
        admin.remove_org_domain(session, args.domain)
    print(f"{args.domain} removed from the registry.")


def _gateway(args: argparse.Namespace) -> GatewayConfig:
    from delapost.serve import gateway_config

    settings = _settings(args)
    return gateway_config(settings, read_secret(settings.path(settings.secret_key_file)))


def cmd_held_list(args: argparse.Namespace) -> None:
    with _session(args) as session:
        lines = held.list_held(session, args.topic)
    if not lines:
        print("Nothing is held.")
    for line in lines:
        print(
            f"#{line.id}\t{line.topic}\t{line.held_at:%Y-%m-%d %H:%M}\t{line.sender}\t"
            f"{line.subject}\t{line.reason}"
        )


def cmd_held_release(args: argparse.Namespace) -> None:
    config = _gateway(args)
    with _session(args) as session:
        print(held.release(session, args.id, config, utcnow()))


def cmd_held_refuse(args: argparse.Namespace) -> None:
    config = _gateway(args)
    with _session(args) as session:
        print(held.refuse(session, args.id, args.reason, config, utcnow()))


def cmd_why(args: argparse.Namespace) -> None:
    message_id = args.message_id.strip().strip("<>")
    with _session(args) as session:
        trail = admin.mail_trail(session, message_id)
    if not trail:
        raise AdminError(f"no mail with Message-ID <{message_id}> has been seen")
    for at, step, verdict, detail in trail:
        what = f"{verdict}: " if verdict != "note" else ""
        print(f"{at:%Y-%m-%d %H:%M:%S} UTC  {step:<12} {what}{detail}")


def _digest_config(settings: Settings) -> DigestConfig:
    secret = read_secret(settings.path(settings.secret_key_file))
    return DigestConfig(
        ListContext(settings.list_domain, settings.base_url, secret),
        DigestSchedule.of(
            settings.timezone,
            parse_weekly(settings.digest_weekly),
            parse_daily(settings.digest_daily),
        ),
    )


def cmd_digest_send(args: argparse.Namespace) -> None:
    if args.dry_run and args.to:
        raise AdminError("--dry-run prints and --to sends one preview: choose one")
    if args.to and not _ADDRESS.fullmatch(args.to):
        raise AdminError(f"--to: {args.to!r} is not an email address")
    settings = _settings(args)
    config = _digest_config(settings)
    period = Period(args.period)
    if args.dry_run or args.to:
        _digest_preview(args, config, period)
        return
    with _session(args) as session:
        admin.find_topic(session, args.topic)
    engine = open_database(settings)
    try:
        report = DigestSender(make_sessionmaker(engine), config).send_now(args.topic, period)
    finally:
        engine.dispose()
    if report.status is Status.BUSY:
        raise AdminError(f"another delapost process is sending {period} digests; try again soon")
    outcome = {
        Status.NOT_DUE: f"the last {period} digest is this recent: nothing to send.",
        Status.EMPTY: f"nothing has arrived since the last {period} digest: none sent.",
        Status.NO_READERS: f"nobody reads the {period} digest: none sent.",
    }.get(report.status)
    if outcome is None:
        threads = f"{report.new_threads} new thread{'s' * (report.new_threads != 1)}"
        replies = f"{report.replies} repl{'ies' if report.replies != 1 else 'y'}"
        outcome = (
            f"{period} digest (run #{report.run_id}): {threads}, {replies}; "
            f"{report.queued} copies queued for the outbox."
        )
    print(f"{args.topic}: {outcome}")


def _digest_preview(args: argparse.Namespace, config: DigestConfig, period: Period) -> None:
    """`--dry-run` prints the digest's text, `--to` queues one copy; neither records a run."""
    now = utcnow()
    with _session(args) as session:
        topic = admin.find_topic(session, args.topic)
        span, letter = preview_letter(session, topic, period, config, now)
        if letter is None:
            since = span.start.astimezone(config.schedule.zone)
            print(f"{topic.slug}: nothing has arrived since {since:%Y-%m-%d %H:%M}: no digest.")
            return
        if args.dry_run:
            print(f"Subject: {letter.subject}\n\n{letter.text_for()}", end="")
            return
        queue_preview(session, letter, args.to, now)
    print(f"{args.topic}: a preview of the {period} digest is queued for {args.to}.")


def cmd_dkim_keygen(args: argparse.Namespace) -> None:
    settings = _settings(args)
    path = settings.path(settings.dkim_key_file)
    try:
        record = generate_key(path)
    except FileExistsError:
        raise AdminError(f"{path} exists already; remove it first to make a new key") from None
    name = f"{settings.dkim_selector}._domainkey.{settings.list_domain}"
    print(f"Key written to {path}. Publish this DNS TXT record at {name}:")
    print(f"  {record}")
    print("As a zone-file line (a TXT string holds at most 255 characters, so it is split):")
    print(zone_file_line(name, record))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="delapost", description="An email-first forum for the public sector.")
    parser.add_argument("--config", metavar="PATH", help="settings file (default ./delapost.toml)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(group: argparse._SubParsersAction[_Parser], name: str, text: str) -> _Parser:
        return group.add_parser(name, help=text, description=text)

    p = command(
        commands, "init", "create or migrate the database, load the registry, make the secret"
    )
    p.set_defaults(run=cmd_init)
    p = command(commands, "serve", "run the SMTP gateway, web archive, outbox and digests")
    p.set_defaults(run=cmd_serve)
    p = command(commands, "demo", "a throwaway forum with Swedish demo threads, then serve it")
    p.add_argument("--dir", default="demo", help="where the demo forum lives (default ./demo)")
    p.add_argument("--no-serve", action="store_true", help="set up and fill it, then stop")
    p.set_defaults(run=cmd_demo)

    topic = command(commands, "topic", "topics: add, list").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = command(topic, "add", "add a topic (one mailing list)")
    p.add_argument("slug", help="short name used in addresses, like 'maltider'")
    p.add_argument("--name", required=True, help="the topic's name, like 'Offentliga måltider'")
    p.add_argument("--description", default="", help="one sentence about the topic")
    p.add_argument(
        "--owner",
        action="append",
        default=[],
        metavar="EMAIL",
        help="gets mail to SLUG-owner@ and decides on held posts (repeat for several)",
    )
    p.set_defaults(run=cmd_topic_add)
    p = command(topic, "list", "list topics")
    p.set_defaults(run=cmd_topic_list)

    member = command(commands, "member", "members: add, list").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = command(member, "add", "add a member; you vouch for the address")
    p.add_argument("email")
    p.add_argument("--name", required=True)
    p.add_argument("--topic", metavar="SLUG", help="subscribe to this topic")
    p.add_argument("--mode", choices=MODES, help="each, daily, weekly (default) or none")
    p.set_defaults(run=cmd_member_add)
    p = command(member, "import", "add the members of an existing list from a CSV file")
    p.add_argument("file", metavar="FILE.csv", help="columns: email, name, and optionally mode")
    p.add_argument("--topic", required=True, metavar="SLUG")
    p.add_argument("--skip-refused", action="store_true", help="import the rows that are fine")
    p.set_defaults(run=cmd_member_import)
    p = command(member, "list", "list members")
    p.add_argument("--topic", metavar="SLUG", help="only members of this topic")
    p.set_defaults(run=cmd_member_list)

    org = command(commands, "org", "the public-sector registry: add, list, remove").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = command(org, "add", "let a domain post, as part of an organisation")
    p.add_argument("domain")
    p.add_argument("--name", required=True, help="the organisation's name")
    p.add_argument("--kind", default="annan", help="kommun, region, myndighet, … (default annan)")
    p.set_defaults(run=cmd_org_add)
    p = command(org, "list", "list registered domains")
    p.set_defaults(run=cmd_org_list)
    p = command(org, "remove", "remove a domain from the registry")
    p.add_argument("domain")
    p.set_defaults(run=cmd_org_remove)

    held_commands = command(commands, "held", "held posts: list, release, refuse")
    held_actions = held_commands.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = command(held_actions, "list", "list the posts waiting for a decision")
    p.add_argument("--topic", metavar="SLUG", help="only this topic")
    p.set_defaults(run=cmd_held_list)
    p = command(held_actions, "release", "publish a held post as if it had been accepted")
    p.add_argument("id", type=int, metavar="ID")
    p.set_defaults(run=cmd_held_release)
    p = command(held_actions, "refuse", "refuse a held post; the sender is told why, once")
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument("--reason", default="", help="what the sender is told")
    p.set_defaults(run=cmd_held_refuse)

    p = command(commands, "why", "show every decision taken about one incoming mail")
    p.add_argument("message_id", metavar="MESSAGE-ID", help="with or without angle brackets")
    p.set_defaults(run=cmd_why)

    digest = command(commands, "digest", "digests: send").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = command(digest, "send", "send a topic's digest now, covering what came since the last")
    p.add_argument("--topic", required=True, metavar="SLUG")
    p.add_argument("--period", required=True, choices=[period.value for period in Period])
    p.add_argument("--dry-run", action="store_true", help="print its text instead; record nothing")
    p.add_argument("--to", metavar="EMAIL", help="send one preview to EMAIL only; record nothing")
    p.set_defaults(run=cmd_digest_send)

    dkim = command(commands, "dkim", "our DKIM signing key").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = command(dkim, "keygen", "make a 2048-bit key and print the DNS record to publish")
    p.set_defaults(run=cmd_dkim_keygen)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.command in {"serve", "demo"} else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiosmtpd logs every SMTP command and APScheduler every job at INFO: too much for a log
    # an operator reads. Our own lines say what was decided about each mail.
    for chatty in ("mail.log", "apscheduler"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        args.run(args)
    except (SettingsError, AdminError, NotReady, MissingSecret, HeldError) as exc:
        print(f"delapost: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"delapost: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr
        )
        return 1
    except SQLAlchemyError as exc:
        if args.debug:
            raise
        print(f"delapost: database error: {exc.__class__.__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
