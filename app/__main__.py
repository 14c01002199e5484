"""The command line: `python -m app serve | worker | migrate | users | credits | apikeys | ledger`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading

from sqlalchemy.orm import Session

from app.config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app", description="Plain-language image edits with credits.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web server (and in-process workers)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--reload", action="store_true")

    worker = commands.add_parser("worker", help="run edit workers for a shared queue (QUEUE_URL=redis://…)")
    worker.add_argument("--threads", type=int)

    commands.add_parser("migrate", help="apply the database migrations")

    users = commands.add_parser("users", help="manage people").add_subparsers(dest="action", required=True)
    create = users.add_parser("create", help="create a person with a password")
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--credits", type=int, help="credits to grant instead of SIGNUP_CREDITS")

    credits = commands.add_parser("credits", help="manage credits").add_subparsers(dest="action", required=True)
    grant = credits.add_parser("grant", help="grant credits to a person")
    grant.add_argument("--email", required=True)
    grant.add_argument("--amount", type=int, required=True)
    grant.add_argument("--reason", required=True)

    apikeys = commands.add_parser("apikeys", help="manage API keys").add_subparsers(dest="action", required=True)
    key_create = apikeys.add_parser("create", help="create an API key and print it once")
    key_create.add_argument("--email", required=True)
    key_create.add_argument("--name", default="CLI key")

    ledger_cmd = commands.add_parser("ledger", help="check the ledger").add_subparsers(dest="action", required=True)
    ledger_cmd.add_parser("verify", help="recompute every balance from the transfers")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from app.errors import AppError, ConfigurationError

    try:
        settings = Settings()
    except ConfigurationError as exc:  # e.g. a shared database or queue without SECRET_KEY
        print(f"error: {exc}", file=sys.stderr)
        return 2
    handler = {"serve": _serve, "worker": _worker, "migrate": _migrate, "users": _users, "credits": _credits,
               "apikeys": _apikeys, "ledger": _ledger}[args.command]
    try:
        return handler(settings, args)
    except (AppError, ConfigurationError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    if not _database_ready(settings):
        return 2
    host = args.host or settings.host
    port = args.port or settings.port
    print(f"Serving on http://{host}:{port} (data in {settings.data_dir})", flush=True)
    # X-Forwarded-* are believed only from FORWARDED_ALLOW_IPS; with none (the default) they are ignored.
    trusted = settings.forwarded_allow_ips.strip()
    uvicorn.run("app.asgi:app", host=host, port=port, reload=args.reload, proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None, log_level="info")
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from app.context import build_context
    from app.workers import Workers

    if not _database_ready(settings):
        return 2
    context = build_context(settings)
    if context.queue.in_process:
        print("QUEUE_URL is memory://: the web server runs the workers itself; set QUEUE_URL=redis://… "
              "to run separate workers.", file=sys.stderr)
        return 2
    workers = Workers(context, args.threads or settings.edit_workers or 1)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    workers.start()
    print(f"Worker running ({workers.threads} thread(s)); Ctrl-C to stop.", flush=True)
    stop.wait()
    workers.stop()
    context.engine.dispose()
    return 0


def _database_ready(settings: Settings) -> bool:
    from app.migrations import pending_message

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    problem = pending_message(settings.resolved_database_url)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
    return problem is None


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from app.migrations import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    print("Database is up to date.")
    return 0


def _transaction(settings: Settings) -> contextlib.AbstractContextManager[Session]:
    from app.db import make_engine, make_session_factory, transaction

    return transaction(make_session_factory(make_engine(settings.resolved_database_url)))


def _users(settings: Settings, args: argparse.Namespace) -> int:
    from app.accounts.service import create_user
    from app.billing import ledger

    with _transaction(settings) as db:
        credits = settings.signup_credits if args.credits is None else args.credits
        user = create_user(db, email=args.email, password=args.password, signup_credits=credits)
        print(f"Created {user.email} ({user.id}) with {ledger.balance(db, user.id).available} credits.")
    return 0


def _credits(settings: Settings, args: argparse.Namespace) -> int:
    import uuid

    from app.accounts.service import find_user
    from app.billing import ledger

    if args.amount <= 0:
        print("--amount must be positive.", file=sys.stderr)
        return 2
    with _transaction(settings) as db:
        user = find_user(db, args.email)
        transfer_id = f"operator:{uuid.uuid4().hex}"
        ledger.transfer(db, transfer_id=transfer_id, user_id=user.id, kind="grant", amount=args.amount,
                        reason=args.reason)
        settled = ledger.settle_outstanding(db, user.id, transfer_id=f"{transfer_id}:settle",
                                            reason="Outstanding credits paid from this grant")
        if settled:
            print(f"{settled} of them paid what the account owed.")
        print(f"Granted {args.amount} credits to {user.email}; available now "
              f"{ledger.balance(db, user.id).available}.")
    return 0


def _apikeys(settings: Settings, args: argparse.Namespace) -> int:
    from app.accounts.service import create_api_key, find_user

    with _transaction(settings) as db:
        user = find_user(db, args.email)
        _, key = create_api_key(db, user.id, args.name)
    print(key)
    return 0


def _ledger(settings: Settings, args: argparse.Namespace) -> int:
    from app.billing import ledger

    with _transaction(settings) as db:
        problems = ledger.verify(db)
    if problems:
        print(f"Ledger verify FAILED: {len(problems)} problem(s)")
        for problem in problems:
            print(f"  account {problem.account}: {problem.problem}")
        return 1
    print("Ledger verify OK: every balance matches its transfers.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
