"""``REDIS_URL=redis+cluster://host:port,...``: the seed nodes the cluster clients start from."""

from __future__ import annotations

import pytest

from core.redis import cluster_nodes, is_cluster_url


def test_a_cluster_url_lists_its_seed_nodes_in_order():
    assert cluster_nodes("redis+cluster://10.0.0.1:7000,10.0.0.2:7001") == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]


def test_a_database_number_on_a_cluster_url_is_ignored():
    # The test settings append one to REDIS_URL; a cluster has database 0 only.
    assert cluster_nodes("redis+cluster://127.0.0.1:7000/14") == [("127.0.0.1", 7000)]


def test_an_ipv6_seed_node_is_written_in_brackets():
    assert cluster_nodes("redis+cluster://[::1]:7000") == [("::1", 7000)]


def test_a_seed_node_without_a_port_is_on_redis_s_default_port():
    assert cluster_nodes("redis+cluster://redis-a") == [("redis-a", 6379)]


def test_a_plain_redis_url_is_not_a_cluster_url():
    assert not is_cluster_url("redis://127.0.0.1:6379/0")
    with pytest.raises(ValueError):
        cluster_nodes("redis://127.0.0.1:6379/0")
