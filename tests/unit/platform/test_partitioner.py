"""The fast partitioner picks exactly the partitions aiokafka's default partitioner picks (records of one key stay on
the partition every other producer of that key uses)."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from services.platform.partitioning import KeyPartitioner, murmur2


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_murmur2_is_kafkas(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)


@settings(max_examples=300)
@given(st.sampled_from([b"", b"5f0c7d2e-1b7a-4c55-9d43-3a8f6c1e2b90:"]), st.binary(max_size=40))
def test_keys_sharing_a_tenant_prefix_hash_as_kafkas(prefix: bytes, rest: bytes) -> None:
    assert murmur2(prefix + rest) == aiokafka_murmur2(prefix + rest)
    assert murmur2(prefix + rest) == aiokafka_murmur2(prefix + rest)  # the remembered prefix state again


@settings(max_examples=300)
@given(st.binary(min_size=0, max_size=80), st.integers(1, 64))
def test_a_key_lands_where_the_default_partitioner_puts_it(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert KeyPartitioner()(key, every, every) == DefaultPartitioner()(key, every, every)


def test_known_hashes_of_the_java_client() -> None:
    # org.apache.kafka.common.utils.UtilsTest#testMurmur2 (signed ints there, unsigned here)
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536}
    assert {key: murmur2(key) for key in cases} == {key: value & 0xFFFFFFFF for key, value in cases.items()}
