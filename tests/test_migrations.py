"""Every table comes from a migration, on SQLite and PostgreSQL alike: up, down and up again, and the
models match what the migrations build."""

from __future__ import annotations

import os
import uuid

import pytest
from alembic import command
from sqlalchemy import inspect, text

from app.db import make_engine
from app.migrations import alembic_config, downgrade, upgrade
from app.models import Base
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def fresh_url(tmp_path):
    if os.environ.get("TEST_DATABASE", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path}/migrations.db"
        return
    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"imagedit_migrations_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_and_no_drift(fresh_url):
    upgrade(fresh_url)
    assert tables(fresh_url) == set(Base.metadata.tables)
    command.check(alembic_config(fresh_url))  # raises if the models differ from the migrations
    downgrade(fresh_url, "base")
    assert tables(fresh_url) == set()
    upgrade(fresh_url)
    assert tables(fresh_url) == set(Base.metadata.tables)
