"""A real PostgreSQL server for the fleet store's CLI tests (tests/postgres_cluster.py)."""
from postgres_cluster import fleet_url, postgres_cluster  # noqa: F401  (fixtures)
