"""The shared page helpers of ui/state.py, through the pages that use them (Streamlit's AppTest)."""

from __future__ import annotations

import pytest

from tests.conftest import page_app, train_tiny

EXPLORE_PAGES = ["latent.py", "reconstructions.py", "denoising.py", "anomalies.py"]


@pytest.mark.parametrize("page", EXPLORE_PAGES)
def test_a_damaged_run_shows_the_clear_message_not_a_traceback(store, page):
    run_id = train_tiny(store)
    (store.folder(run_id) / "weights.safetensors").write_bytes(b"not a safetensors file")
    at = page_app(page)
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception, at.exception
    assert any("weights" in e.value for e in at.error), [e.value for e in at.error]


def test_an_executor_that_cannot_start_is_not_tried_again_on_every_page(monkeypatch, tmp_path):
    """AE_EXECUTOR=ray with its cluster unreachable: Ray's connect waits half a minute, so a failed start is
    remembered for RETRY_SECONDS and every page says why at once instead of waiting again."""
    from ae_core.errors import InputError
    from ae_core.runs import jobs
    from ui import state

    calls = []

    def unreachable(*args, **kwargs):
        calls.append(1)
        raise InputError("could not reach the Ray cluster at ray://nowhere:10001")

    monkeypatch.setenv("AE_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("AE_EXECUTOR", "ray")
    monkeypatch.setattr(jobs, "executor_from_env", unreachable)
    monkeypatch.setattr(state, "_failed", {})
    for _ in range(3):
        with pytest.raises(InputError, match="could not reach"):
            state._jobs()
    assert len(calls) == 1
    clock = [state.time.monotonic() + state.RETRY_SECONDS + 1]
    monkeypatch.setattr(state.time, "monotonic", lambda: clock[0])
    with pytest.raises(InputError):
        state._jobs()
    assert len(calls) == 2  # tried again once the wait is over
