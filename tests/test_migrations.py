"""Every table comes from a migration, on SQLite and PostgreSQL alike: up, down and up again, and the
models match what the migrations build."""

from __future__ import annotations

import os

import pytest
from alembic import command
from sqlalchemy import inspect

from app.db import make_engine
from app.migrations import alembic_config, downgrade, upgrade
from app.models import Base
from tests.topology import fresh_postgres_database


@pytest.fixture
def fresh_url(tmp_path):
    if os.environ.get("TEST_DATABASE", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path}/migrations.db"
        return
    with fresh_postgres_database() as url:
        yield url


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
