"""One expensive result per test session, shared by the pytest-xdist workers.

Each worker keeps its own copy in memory; the first worker to need a result computes it
under a file lock and pickles it into the session's temporary directory, so that the
others read it instead of computing it again (a tracked scenario costs tens of seconds).
"""

from __future__ import annotations

import fcntl
import pickle
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def shared_cache(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, prefix: str, make: Callable[[str], T]
) -> Callable[[str], T]:
    """A function of a key (a scenario stem) that computes make(key) once per session."""
    cache: dict[str, T] = {}
    shared = None if worker_id == "master" else tmp_path_factory.getbasetemp().parent

    def get(key: str) -> T:
        if key in cache:
            return cache[key]
        if shared is None:
            cache[key] = make(key)
            return cache[key]
        with open(shared / f"{prefix}-{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            pkl = shared / f"{prefix}-{key}.pkl"
            if pkl.exists():
                cache[key] = pickle.loads(pkl.read_bytes())
            else:
                cache[key] = make(key)
                pkl.write_bytes(pickle.dumps(cache[key]))
        return cache[key]

    return get
