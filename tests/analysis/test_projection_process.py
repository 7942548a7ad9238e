"""The UMAP helper process (ae_core.analysis.projection_process): answers, errors, a dead helper, the warm-up's log line.

The helper is a real spawned process; it runs cheap stand-ins from this module instead of UMAP
(numba's first compile takes most of a minute), named by "module:function" as the app names its own.
"""

import os
import signal
import time

import numpy as np
import pytest

from ae_core.analysis.projection import cached_projection, project
from ae_core.analysis.projection_process import WARM_UP_DONE, Projector
from ae_core.errors import InputError
from ae_core.runs.store import RunStore

HERE = __name__  # "tests.analysis.test_projection_process": importable by the helper, which gets this sys.path


def first_columns(Z, k, seed):
    """A stand-in for UMAP: the first k columns, plus the seed and the helper's pid in the last row."""
    out = np.array(Z[:, :k], dtype=np.float32)
    out[-1] = [seed, os.getpid()][:k]
    return out


def refuse(Z, k, seed):
    raise InputError(f"refused {len(Z)} points")


def quiet():
    pass


def broken():
    raise RuntimeError("no compiler")


@pytest.fixture
def helper():
    made = []

    def make(fit="first_columns", **kwargs):
        made.append(Projector(fit=f"{HERE}:{fit}", warm_up_fn=f"{HERE}:quiet", delay=0.0, **kwargs).start())
        return made[-1]

    yield make
    for p in made:
        p.close()


def test_the_helper_fits_in_its_own_process(helper):
    p = helper(warm_up=False)
    Z = np.arange(20, dtype=np.float32).reshape(5, 4)
    Y = p.fit(Z, 2, seed=7)
    assert Y.dtype == np.float32 and Y.shape == (5, 2)
    np.testing.assert_array_equal(Y[:-1], Z[:-1, :2])
    assert Y[-1, 0] == 7 and Y[-1, 1] == p.pid != os.getpid()


def test_project_and_its_cache_use_the_helper_for_umap_only(helper, tmp_path):
    p = helper(warm_up=False)
    store = RunStore(tmp_path / "runs")
    rid = store.create({"dataset": {"name": "digits"}, "variant": "vanilla"}).id
    Z = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
    Y = cached_projection(store, rid, Z, "umap", 2, seed=3, umap=p.fit)
    assert Y[-1, 1] == p.pid  # computed there
    np.testing.assert_array_equal(cached_projection(store, rid, Z, "umap", 2, umap=None), Y)  # then read from disk
    np.testing.assert_array_equal(project(Z, "pca", 2, umap=p.fit), project(Z, "pca", 2))  # PCA stays here


def test_an_error_in_the_helper_is_raised_in_the_caller_with_its_message(helper):
    p = helper("refuse", warm_up=False)
    with pytest.raises(InputError, match="refused 6 points"):
        p.fit(np.zeros((6, 2), np.float32), 2, 0)
    with pytest.raises(InputError, match="refused 3 points"):  # and it goes on serving
        p.fit(np.zeros((3, 2), np.float32), 2, 0)


def test_a_killed_helper_is_replaced_by_the_next_request(helper):
    p = helper(warm_up=False)
    Z = np.ones((5, 3), np.float32)
    first = p.pid
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while p._process.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    Y = p.fit(Z, 2, 0)
    assert p.pid != first and Y[-1, 1] == p.pid


def test_the_warm_up_says_in_the_server_log_when_it_is_done_or_failed(capfd):
    """One line in the server's log (the helper shares its stderr), so an operator (and the browser benchmark)
    can tell when the server has its full speed."""
    p = Projector(fit=f"{HERE}:first_columns", warm_up_fn=f"{HERE}:quiet", delay=0.0).start()
    try:
        deadline = time.monotonic() + 60
        while WARM_UP_DONE not in (err := capfd.readouterr().err) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"ae_core.analysis.projection_process: {WARM_UP_DONE} in " in err
    finally:
        p.close()
    p = Projector(fit=f"{HERE}:first_columns", warm_up_fn=f"{HERE}:broken", delay=0.0).start()
    try:
        deadline, err = time.monotonic() + 60, ""
        while "warm-up failed" not in err and time.monotonic() < deadline:
            err += capfd.readouterr().err
            time.sleep(0.1)
        assert "UMAP warm-up failed" in err and "RuntimeError: no compiler" in err and WARM_UP_DONE not in err
        assert p.fit(np.ones((4, 2), np.float32), 2, 0).shape == (4, 2)  # still serves requests
    finally:
        p.close()


def test_the_helper_starts_after_its_delay_or_at_the_first_request_sooner():
    """Nothing is spawned while the server draws its first page; a request that cannot wait starts it."""
    kw = dict(fit=f"{HERE}:first_columns", warm_up_fn=f"{HERE}:quiet")
    later = Projector(delay=0.5, **kw).start()
    soon = Projector(delay=60.0, **kw).start()
    closed = Projector(delay=0.3, **kw).start()
    try:
        assert later.pid is None and soon.pid is None
        closed.close()
        deadline = time.monotonic() + 30
        while later.pid is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert later.pid is not None and later.pid != os.getpid()
        Y = soon.fit(np.ones((4, 3), np.float32), 2, 5)  # long before its delay: started for this request
        assert Y[-1, 1] == soon.pid is not None and Y[-1, 0] == 5
        time.sleep(0.5)
        assert closed.pid is None  # closed before its delay was up: it never starts
    finally:
        for p in (later, soon, closed):
            p.close()
