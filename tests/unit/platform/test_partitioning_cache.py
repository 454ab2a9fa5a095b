"""The relay's partitioner puts every key where Kafka's default partitioner (aiokafka's, the Java client's) does."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner, murmur2

from services.platform import partitioning
from services.platform.partitioning import KeyPartitioner

SEED = random.randrange(2**32)


def test_murmur2_matches_kafkas_for_random_keys() -> None:
    rng = random.Random(SEED)
    print(f"seed {SEED}")
    for _ in range(3000):
        key = rng.randbytes(rng.randrange(0, 120))
        assert partitioning.murmur2(key) == murmur2(key) & 0xFFFFFFFF, (SEED, key)


@pytest.mark.parametrize("partitions", [1, 3, 6, 16, 17])
def test_keys_go_to_the_partition_kafkas_default_partitioner_picks(partitions: int) -> None:
    rng = random.Random(SEED + partitions)
    every = list(range(partitions))
    ours = KeyPartitioner(cached=50)  # small: the cache is cleared along the way
    for _ in range(500):
        key = f"{rng.getrandbits(128):032x}:YZ{rng.randrange(10**12)}".encode()
        expected = DefaultPartitioner()(key, every, every)
        assert ours(key, every, every) == expected
        assert ours(key, every, every) == expected  # from the cache


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    assert KeyPartitioner()(None, [0, 1, 2], [2]) == 2
