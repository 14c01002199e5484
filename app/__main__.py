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
    create.add_argument("--operator", action="store_true", help="may use the operator console (/admin)")
    users.add_parser("promote", help="make a person an operator (the console at /admin)") \
        .add_argument("--email", required=True)
    users.add_parser("verify", help="mark a person's address confirmed (and grant as a confirmation would)") \
        .add_argument("--email", required=True)
    users.add_parser("reset-link", help="print a one-hour password reset link to hand to a person") \
        .add_argument("--email", required=True)
    users.add_parser("delete", help="delete a person's account: files, keys, sessions; the ledger stays") \
        .add_argument("--email", required=True)

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

    report = commands.add_parser("report", help="reports for the operator").add_subparsers(dest="action",
                                                                                          required=True)
    margin = report.add_parser("margin", help="per day and quality/resolution: edits, credits, revenue at the "
                               "pack prices, provider cost (PROVIDER_PRICES_FILE) and margin")
    margin.add_argument("--days", type=int, default=30)
    failed = report.add_parser("failures", help="edits the provider or the site failed (quota, billing, "
                               "settings, outages), with what the provider said")
    failed.add_argument("--days", type=int, default=7)
    failed.add_argument("--all", action="store_true", help="also moderation and refused instructions")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from app.errors import AppError, ConfigurationError

    try:
        settings = Settings()
    except ConfigurationError as exc:  # e.g. a shared database or queue without SECRET_KEY
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from app.observability import configure_logging

    configure_logging(settings.log_format)  # LOG_FORMAT: json lines or readable ones, with the request id
    handler = {"serve": _serve, "worker": _worker, "migrate": _migrate, "users": _users, "credits": _credits,
               "apikeys": _apikeys, "ledger": _ledger, "report": _report}[args.command]
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
    # log_config=None: uvicorn's lines go through our logging (LOG_FORMAT); app.observability writes the access
    # line, with the request id and the route, so uvicorn's own is off.
    uvicorn.run("app.asgi:app", host=host, port=port, reload=args.reload, proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None, log_level="info", log_config=None, access_log=False)
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
    stop_metrics = None
    if settings.worker_metrics_port:
        from app import observability, readiness

        stop_metrics = observability.serve_metrics(settings.worker_metrics_port, [
            observability.QueueCollector(lambda: readiness.queue_backlog(context))])
        print(f"Worker metrics on port {settings.worker_metrics_port} (/metrics).", flush=True)
    print(f"Worker running ({workers.threads} thread(s)); Ctrl-C to stop.", flush=True)
    stop.wait()
    workers.stop()
    if stop_metrics is not None:
        stop_metrics()
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


def _report(settings: Settings, args: argparse.Namespace) -> int:
    """`report margin --days N` (app.billing.margin) and `report failures --days N` (app.editor.failures)."""
    from app.billing.margin import credit_value, format_report, margin_report
    from app.billing.pricing import load_pricing
    from app.billing.provider_costs import load_provider_prices
    from app.models.base import utcnow

    if args.days < 1:
        print("error: --days must be at least 1", file=sys.stderr)
        return 2
    if args.action == "failures":
        from app.editor.failures import OPERATOR_CODES, recent_failures

        with _transaction(settings) as db:
            failures = recent_failures(db, days=args.days, now=utcnow(), codes=None if args.all else OPERATOR_CODES)
        for failure in failures:
            when = failure.finished_at.isoformat(timespec="seconds") if failure.finished_at else "-"
            print(f"{when}  {failure.code}  edit {failure.edit_id}  user {failure.user_id}\n    {failure.detail}")
        print(f"{len(failures)} failed edit(s) in the last {args.days} day(s).")
        return 0
    pricing = load_pricing(settings.pricing_file)
    prices = load_provider_prices(settings.provider_prices_file)
    with _transaction(settings) as db:
        rows = margin_report(db, pricing, prices, days=args.days, now=utcnow())
    print(format_report(rows, credit_value(pricing)))
    return 0


def _transaction(settings: Settings) -> contextlib.AbstractContextManager[Session]:
    from app.db import make_engine, make_session_factory, transaction

    return transaction(make_session_factory(make_engine(settings.resolved_database_url)))


def _users(settings: Settings, args: argparse.Namespace) -> int:
    if args.action in ("verify", "reset-link"):
        return _users_address(settings, args)
    if args.action == "promote":
        return _users_promote(settings, args)
    if args.action == "delete":
        return _users_delete(settings, args)
    from app.accounts.service import create_user
    from app.billing import ledger

    with _transaction(settings) as db:
        credits = settings.signup_credits if args.credits is None else args.credits
        user = create_user(db, email=args.email, password=args.password, signup_credits=credits)
        user.is_operator = bool(args.operator)
        role = "operator " if user.is_operator else ""
        print(f"Created {role}{user.email} ({user.id}) with {ledger.balance(db, user.id).available} credits.")
    return 0


def _users_promote(settings: Settings, args: argparse.Namespace) -> int:
    """`users promote`: the person may use the operator console from their next page."""
    from app.admin.service import promote

    with _transaction(settings) as db:
        user = promote(db, args.email)
        print(f"{user.email} is an operator; the console is at /admin.")
    return 0


def _users_address(settings: Settings, args: argparse.Namespace) -> int:
    """`users verify` and `users reset-link` (app.accounts.lifecycle)."""
    from app.accounts import lifecycle
    from app.accounts.service import find_user
    from app.billing import ledger
    from app.context import build_context

    context = build_context(settings)
    try:
        if args.action == "reset-link":
            print(lifecycle.reset_link(context, args.email))
            return 0
        with context.transaction() as db:
            user = find_user(db, args.email)
            changed = lifecycle.mark_confirmed(db, context, user, may_grant=lambda: True)
            available = ledger.balance(db, user.id).available
        print(f"{user.email} is {'now' if changed else 'already'} confirmed; {available} credits available.")
        return 0
    finally:
        context.queue.stop()
        context.engine.dispose()


def _users_delete(settings: Settings, args: argparse.Namespace) -> int:
    """`users delete`: as the person's own deletion, without their password (app.accounts.deletion)."""
    from app.accounts import deletion
    from app.accounts.service import find_user
    from app.context import build_context
    from app.errors import AppError

    context = build_context(settings)
    try:
        with context.transaction() as db:
            user = find_user(db, args.email)
            email = user.email
            erased = deletion.erase(context, db, user.id)
        print(f"Deleted {email}: {erased.edits} edits ({erased.cancelled} cancelled and refunded), their files, "
              "API keys and sessions. The ledger keeps the anonymous account.")
        return 0
    except AppError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    finally:
        context.queue.stop()
        context.engine.dispose()


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
