"""A real PostgreSQL server for the fleet store's tests: one cluster per session (initdb once), a fresh
database per test."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from postgres_cluster import PostgresCluster


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def fleet_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh database on the session's server (started again if a test stopped it)."""
    postgres_cluster.start()
    return postgres_cluster.new_database()
