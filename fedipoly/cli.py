"""The `fedipoly` command: run the server or workers, and operator tasks (users, invites, tokens,
domain blocks, suspensions)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn, TextIO

from aiohttp import web

from fedipoly import appkeys
from fedipoly.app import create_app, new_client
from fedipoly.config import Config, ConfigError, load_config
from fedipoly.errors import FedipolyError
from fedipoly.models import Role, utc_now
from fedipoly.services.accounts import AccountService
from fedipoly.services.audit import AuditLog
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.delivery import Deliverer
from fedipoly.services.keys import load_instance_keys
from fedipoly.services.moderation import OperatorActions
from fedipoly.store import create_store
from fedipoly.urls import Urls

log = logging.getLogger("fedipoly")


class CommandError(Exception):
    """A failure to report as one line on stderr, with a non-zero exit status."""


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are reported as one line (plus a pointer to --help), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


# mongodb://user:password@host -> mongodb://***@host, so an error line never shows a password.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
_MAX_ERROR_CHARS = 500


def one_line(message: object) -> str:
    """An error message as one short line without credentials, for stderr."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", " ".join(str(message).split()))
    if len(text) > _MAX_ERROR_CHARS:
        text = text[: _MAX_ERROR_CHARS - 1] + "…"
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fedipoly",
        description="Fedipoly: a federated social network about what you do.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=os.environ.get("FEDIPOLY_CONFIG") or None,
        help="TOML configuration file (default: $FEDIPOLY_CONFIG, else built-in defaults); "
        "FEDIPOLY_<SECTION>_<KEY> variables override single options",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web server (with background workers)")
    serve.add_argument(
        "--no-workers",
        action="store_true",
        help="serve HTTP only; run `fedipoly worker` processes for background work",
    )
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="run background workers without a web server")
    worker.set_defaults(handler=_worker)

    users = commands.add_parser("users", help="manage accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create_user = users.add_parser("create", help="create an account (bypasses invites)")
    create_user.add_argument("name", help="username: a-z, 0-9 and _, up to 30 characters")
    create_user.add_argument("--email", required=True, help="the account's email address")
    create_user.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from the first line of standard input",
    )
    create_user.add_argument(
        "--role",
        choices=[role.value for role in Role],
        default=Role.MEMBER.value,
        help="admin, moderator or member (default: member)",
    )
    create_user.set_defaults(handler=_create_user)

    invites = commands.add_parser("invites", help="manage invite codes").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create_invite = invites.add_parser("create", help="create an invite code and print it")
    create_invite.add_argument("--uses", type=int, default=1, help="how many sign-ups (default 1)")
    create_invite.add_argument(
        "--expires-days", type=int, default=None, help="days until it expires (default: never)"
    )
    create_invite.set_defaults(handler=_create_invite)

    tokens = commands.add_parser("tokens", help="manage API tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create_token = tokens.add_parser("create", help="create an API token for a user; printed once")
    create_token.add_argument("name", help="the username the token acts for")
    create_token.add_argument("--label", default="command line", help="what the token is for")
    create_token.set_defaults(handler=_create_token)
    _add_moderation_commands(commands)
    return parser


def _add_moderation_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    blocks = commands.add_parser(
        "domain-blocks", help="refuse all traffic with a domain"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    add_block = blocks.add_parser(
        "add", help="block a domain and its subdomains, and purge what is cached from it"
    )
    add_block.add_argument("domain", help="e.g. spam.example (a host:port blocks that port)")
    add_block.add_argument("--reason", default="", help="why, for the audit log")
    add_block.set_defaults(handler=_block_domain)
    remove_block = blocks.add_parser("remove", help="lift a domain block")
    remove_block.add_argument("domain", help="the blocked domain")
    remove_block.set_defaults(handler=_unblock_domain)
    list_blocks = blocks.add_parser("list", help="print the blocked domains, one a line")
    list_blocks.set_defaults(handler=_list_domain_blocks)

    moderation = commands.add_parser(
        "moderation", help="suspend or restore members"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, suspended, text in (
        ("suspend", True, "suspend a member: no sign-in, no posting, their actor answers 410"),
        ("unsuspend", False, "lift a member's suspension"),
    ):
        command = moderation.add_parser(name, help=text)
        command.add_argument("name", help="the member's username")
        command.add_argument("--reason", default="", help="why, for the audit log")
        command.set_defaults(handler=_suspension(suspended))


def _configure_logging(config: Config, command: str) -> None:
    level = config.logging.level.upper()
    if command not in ("serve", "worker") and level != "DEBUG":
        level = "WARNING"  # operator commands print their result, not progress chatter
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


# Young objects a garbage-collection pass waits for (CPython's default is 700). A busy inbox
# holds the parsed activities of dozens of requests at once, and each pass walked them all:
# 800 passes per 20,000 accepted POSTs, about 4% of the CPU (bench/inbox_bench.py). Passes
# after 10,000 allocations find the same garbage, 14 times less often.
YOUNG_COLLECTION_THRESHOLD = 10_000


async def freeze_startup_heap(_app: web.Application) -> None:
    """Tune the garbage collector for a long-running server once start-up is done.

    What start-up built (modules, templates, services) lives as long as the process, yet each
    full collection walked all of it; frozen, it is left out of every pass. Objects created
    afterwards are collected as before, in rarer young passes.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


def _serve(config: Config, args: argparse.Namespace, _out: TextIO) -> None:
    app = create_app(config, run_workers=not args.no_workers)
    bootstrap_links: list[str] = []

    async def find_bootstrap_invite(app: web.Application) -> None:
        # on_startup runs after the store is opened (cleanup_ctx starts first).
        invite = await app[appkeys.ACCOUNTS].ensure_bootstrap_invite()
        if invite is not None:
            bootstrap_links.append(f"{config.server.base_url}/signup?invite={invite.code}")

    def listening(message: str) -> None:
        # run_app calls this once the port is bound, so the link works when it is shown.
        log.info("%s", " ".join(message.replace("=", " ").split()))
        for link in bootstrap_links:
            log.warning("No accounts yet: open %s to create the admin account", link)

    app.on_startup.append(find_bootstrap_invite)
    app.on_startup.append(freeze_startup_heap)
    # run_app handles SIGINT and SIGTERM: it stops accepting, lets in-flight requests finish
    # for up to shutdown_timeout, then runs cleanup (which stops the workers the same way).
    web.run_app(
        app,
        host=config.server.host,
        port=config.server.port,
        shutdown_timeout=config.server.shutdown_timeout_seconds,
        print=listening,
        access_log=None,
    )


def _worker(config: Config, _args: argparse.Namespace, _out: TextIO) -> None:
    asyncio.run(_run_workers(config))


async def _run_workers(config: Config) -> None:
    """The same wiring as `serve`, without a listening socket."""
    runner = web.AppRunner(create_app(config, run_workers=True))
    await runner.setup()
    await freeze_startup_heap(runner.app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("workers running: %s", ", ".join(runner.app[appkeys.WORKERS].job_names))
    await stop.wait()
    log.info("stopping workers")
    await runner.cleanup()


async def _with_accounts(config: Config, action: Callable[[AccountService], Awaitable[str]]) -> str:
    store = create_store(config.storage)
    await store.open()
    try:
        service = AccountService(store, config.registration, config.security, utc_now)
        return await action(service)
    finally:
        await store.close()


async def _with_operator(
    config: Config, action: Callable[[OperatorActions], Awaitable[str]]
) -> str:
    store = create_store(config.storage)
    await store.open()
    try:
        urls = Urls(config.server.base_url)
        keys = await load_instance_keys(store)
        # A suspension withdraws the member's badge announces: the Undo{Announce}s are only
        # queued here (this client is never started); the server's delivery worker sends them.
        deliverer = Deliverer(store, new_client(config), urls, utc_now, keys.private_pem)
        operator = OperatorActions(
            store,
            AuditLog(store, utc_now),
            urls,
            utc_now,
            badge_actors=BadgeActorService(store, deliverer, urls, utc_now),
        )
        return await action(operator)
    finally:
        await store.close()


def _block_domain(config: Config, args: argparse.Namespace, out: TextIO) -> None:
    async def action(operator: OperatorActions) -> str:
        block = await operator.block_domain(args.domain, args.reason)
        return f"blocked {block.domain}"

    print(asyncio.run(_with_operator(config, action)), file=out)


def _unblock_domain(config: Config, args: argparse.Namespace, out: TextIO) -> None:
    async def action(operator: OperatorActions) -> str:
        await operator.unblock_domain(args.domain)
        return f"unblocked {args.domain.strip().lower()}"

    print(asyncio.run(_with_operator(config, action)), file=out)


def _list_domain_blocks(config: Config, _args: argparse.Namespace, out: TextIO) -> None:
    async def action(operator: OperatorActions) -> str:
        return "\n".join(block.domain for block in await operator.domain_blocks())

    listed = asyncio.run(_with_operator(config, action))
    if listed:
        print(listed, file=out)


def _suspension(suspended: bool) -> Callable[[Config, argparse.Namespace, TextIO], None]:
    def run(config: Config, args: argparse.Namespace, out: TextIO) -> None:
        async def action(operator: OperatorActions) -> str:
            account = await operator.set_suspended(args.name, suspended, args.reason)
            return f"{'suspended' if suspended else 'restored'} @{account.username}"

        print(asyncio.run(_with_operator(config, action)), file=out)

    return run


def _create_user(config: Config, args: argparse.Namespace, out: TextIO) -> None:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CommandError("no password on standard input (--password-stdin reads its first line)")

    async def action(accounts: AccountService) -> str:
        account = await accounts.register(
            username=args.name,
            email=args.email,
            password=password,
            invite_code=None,
            role=Role(args.role),
            bypass_registration_mode=True,
        )
        return f"created {account.role.value} @{account.username}@{config.server.domain}"

    print(asyncio.run(_with_accounts(config, action)), file=out)


def _create_invite(config: Config, args: argparse.Namespace, out: TextIO) -> None:
    async def action(accounts: AccountService) -> str:
        invite = await accounts.create_operator_invite(
            max_uses=args.uses, expires_days=args.expires_days
        )
        return invite.code

    print(asyncio.run(_with_accounts(config, action)), file=out)


def _create_token(config: Config, args: argparse.Namespace, out: TextIO) -> None:
    async def action(accounts: AccountService) -> str:
        account = await accounts.get_by_username(args.name)
        return (await accounts.issue_token(account, args.label)).secret

    print(asyncio.run(_with_accounts(config, action)), file=out)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
        _configure_logging(config, args.command)
        args.handler(config, args, out)
    except ConfigError as error:
        print(f"fedipoly: configuration error: {one_line(error)}", file=sys.stderr)
        return 2
    except (FedipolyError, CommandError) as error:
        print(f"fedipoly: error: {one_line(error)}", file=sys.stderr)
        return 1
    except OSError as error:  # e.g. the port is taken or the data directory is not writable
        print(f"fedipoly: error: {one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
