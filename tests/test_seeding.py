"""Replication seeds: each is the matching child of SeedSequence(root), built directly."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.results.seeding import replication_rng, replication_seed, seed_key


@given(root=st.integers(0, 2**64), index=st.integers(0, 300))
def test_replication_seed_is_the_spawned_child(root: int, index: int) -> None:
    child = np.random.SeedSequence(root).spawn(index + 1)[index]
    direct = replication_seed(root, index)
    assert direct.entropy == child.entropy
    assert direct.spawn_key == child.spawn_key
    assert np.array_equal(direct.generate_state(8), child.generate_state(8))


def test_replication_streams_match_spawned_generators() -> None:
    children = np.random.SeedSequence(7).spawn(5)
    for i, child in enumerate(children):
        expected = np.random.default_rng(child).random(4)
        assert np.array_equal(replication_rng(7, i).random(4), expected)


def test_replications_and_roots_give_distinct_streams() -> None:
    states = {
        tuple(replication_seed(root, i).generate_state(4)) for root in range(5) for i in range(50)
    }
    assert len(states) == 250


def test_replication_seed_does_not_depend_on_order() -> None:
    forward = [replication_seed(3, i).generate_state(2).tolist() for i in range(10)]
    backward = [replication_seed(3, i).generate_state(2).tolist() for i in reversed(range(10))]
    assert forward == backward[::-1]


def test_seed_key() -> None:
    assert seed_key(1, 17) == "1/17"


@pytest.mark.parametrize(("root", "index"), [(-1, 0), (0, -1), (1.5, 0), (True, 0)])
def test_bad_seeds_are_rejected(root: object, index: int) -> None:
    with pytest.raises(ValueError):
        replication_seed(root, index)  # type: ignore[arg-type]
