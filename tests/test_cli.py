"""The command line of API.md: users create, credits grant, apikeys create, ledger verify, migrate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import update

from app.models import Account
from tests.conftest import PASSTHROUGH

ROOT = Path(__file__).resolve().parent.parent


def run_cli(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "cli"), "EDIT_BACKEND": PASSTHROUGH,
           "PYTHONPATH": str(ROOT), "SIGNUP_CREDITS": "7", "SECRET_KEY": "cli-test-secret"}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def test_operator_commands(database_url, clean_db, tmp_path, client, context):
    created = run_cli(database_url, tmp_path, "users", "create", "--email", "Op@Example.com",
                      "--password", "long password")
    assert created.returncode == 0, created.stderr
    assert "op@example.com" in created.stdout and "7 credits" in created.stdout
    custom = run_cli(database_url, tmp_path, "users", "create", "--email", "b@example.com",
                     "--password", "long password", "--credits", "0")
    assert "0 credits" in custom.stdout
    duplicate = run_cli(database_url, tmp_path, "users", "create", "--email", "op@example.com", "--password", "x" * 9)
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr

    granted = run_cli(database_url, tmp_path, "credits", "grant", "--email", "op@example.com", "--amount", "25",
                      "--reason", "Launch promo")
    assert granted.returncode == 0 and "available now 32" in granted.stdout
    assert run_cli(database_url, tmp_path, "credits", "grant", "--email", "op@example.com", "--amount", "0",
                   "--reason", "x").returncode == 2
    assert run_cli(database_url, tmp_path, "credits", "grant", "--email", "nobody@example.com", "--amount", "5",
                   "--reason", "x").returncode == 2

    key = run_cli(database_url, tmp_path, "apikeys", "create", "--email", "op@example.com").stdout.strip()
    assert key.startswith("sk-ie-")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert (me["email"], me["balance"]) == ("op@example.com", 32)
    ledger = client.get("/api/v1/ledger", headers={"Authorization": f"Bearer {key}"}).json()["items"]
    assert ledger[0]["reason"] == "Launch promo" and ledger[0]["amount"] == 25

    verified = run_cli(database_url, tmp_path, "ledger", "verify")
    assert verified.returncode == 0 and "OK" in verified.stdout
    with context.transaction() as db:  # a balance that no transfer explains
        db.execute(update(Account).where(Account.user_id == me["id"]).values(credits_posted=1000))
    broken = run_cli(database_url, tmp_path, "ledger", "verify")
    assert broken.returncode == 1
    assert "FAILED" in broken.stdout and "credits_posted is 1000, transfers say 32" in broken.stdout


def test_migrate_and_serve_on_a_fresh_data_dir(tmp_path):
    """`migrate` then `serve` on an empty folder: what `make run` does."""
    import socket
    import time

    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "EDIT_BACKEND": PASSTHROUGH, "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    migrated = subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "data" / "app.db").exists()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                home = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.2)
        assert home.status_code == 200 and "Say what should change" in home.text
        assert (tmp_path / "data" / "secret_key").exists()
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_grant_first_pays_what_the_account_owes(database_url, clean_db, tmp_path, context):
    from app.billing import ledger
    from tests.conftest import create_user

    user = create_user(context, email="owes@example.com", credits=0)
    with context.transaction() as db:  # a refund took back 30 credits that had already been spent
        ledger.transfer(db, transfer_id="test:owe", user_id=user.id, kind="owe", amount=30, reason="Refund")
    granted = run_cli(database_url, tmp_path, "credits", "grant", "--email", "owes@example.com", "--amount", "50",
                      "--reason", "Goodwill")
    assert granted.returncode == 0, granted.stderr
    assert "30 of them paid what the account owed" in granted.stdout and "available now 20" in granted.stdout
    with context.transaction() as db:
        balance = ledger.balance(db, user.id)
    assert (balance.available, balance.outstanding) == (20, 0)
    assert run_cli(database_url, tmp_path, "ledger", "verify").returncode == 0


def test_serve_refuses_an_unmigrated_database_with_a_clear_message(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "EDIT_BACKEND": PASSTHROUGH, "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    for command in ("serve", "worker"):
        started = subprocess.run([sys.executable, "-m", "app", command], cwd=tmp_path, env=env, capture_output=True,
                                 text=True, timeout=60)
        assert started.returncode == 2
        assert "Run `python -m app migrate` first" in started.stderr and "Traceback" not in started.stderr
