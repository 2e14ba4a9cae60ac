import os

from search.workers import cores_per_worker


def test_workers_share_the_cores_and_each_gets_at_least_one():
    cores = len(os.sched_getaffinity(0))
    assert cores_per_worker(1) == cores
    assert cores_per_worker(cores) == 1
    assert cores_per_worker(4 * cores) == 1
    assert cores_per_worker(2) * 2 <= max(2, cores)
