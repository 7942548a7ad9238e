"""The README's reliability claims under faults: bad settings are refused at the
form, a diverging run fails with its reason, a training process killed mid-epoch
leaves an interrupted run with a loadable checkpoint that resumes with the same
history, and a run whose files cannot be written fails with that reason while the
store stays consistent. (The server restart is in tests/e2e/test_restart.py.)"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import textwrap
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from ae_core.errors import InputError
from ae_core.runs.jobs import JobManager
from ae_core.runs.loaded import load_run
from ae_core.runs.spec import make_config
from ae_core.runs.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
DIVERGED = r"training diverged \(loss became NaN at epoch \d+\) — lower the learning rate"


def _wait(predicate, timeout=90.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def integrity(store: RunStore) -> str:
    con = sqlite3.connect(store.db_path)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


# ---- settings are refused at the form ----------------------------------------------------------------

def _train_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def recorder(fake_manager):
    """The app's job manager, replaced: records the configs the form submits, starts nothing."""
    return fake_manager


@pytest.mark.parametrize("key, bad, message", [
    ("latent_digits_vanilla", 0, "latent size must be between 1 and 1024, got 0"),
    ("latent_digits_vanilla", 5000, "latent size must be between 1 and 1024, got 5000"),
    ("lr_digits_vanilla", 5.0, r"learning rate must be in \(0, 1\], got 5.0"),
    ("lr_digits_vanilla", 0.0, r"learning rate must be in \(0, 1\], got 0.0"),
    ("epochs_digits_vanilla", 0, "epochs must be between 1 and 10000, got 0"),
    ("batch_digits_vanilla", 100_000, "batch size must be between 1 and 65536"),
    ("seed_digits_vanilla", -1, "seed must be between 0 and 2147483647"),
    ("noise_level_digits_vanilla", 1.5, "noise level must be between 0 and 1"),
    ("sparsity_digits_vanilla", -0.1, "sparsity weight must be between 0 and 10"),
], ids=["latent-0", "latent-5000", "lr-5", "lr-0", "epochs-0", "batch-100000", "seed-neg", "noise-1.5", "sparsity-neg"])
def test_out_of_range_number_is_named_and_start_is_disabled(recorder, store, key, bad, message):
    """The form keeps the value the person typed, says which setting is out of range and what
    range it takes, and cannot start a run until it is fixed; fixing it enables Start again."""
    at = _train_page()
    default = at.number_input(key=key).value
    at.number_input(key=key).set_value(bad).run()
    assert not at.exception, at.exception
    assert at.number_input(key=key).value == bad
    assert any(re.search(message, e.value) and "Cannot start" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert at.button(key="train_start").disabled
    assert not recorder.configs and store.list() == []
    at.number_input(key=key).set_value(default).run()
    assert not at.error and not at.button(key="train_start").disabled


@pytest.mark.parametrize("hidden, message", [("abc", "whole numbers"), ("128,-4", "whole numbers|between 1"),
                                             ("", "at least one"), ("0", "between 1")],
                         ids=["abc", "negative", "empty", "zero"])
def test_bad_hidden_sizes_show_an_error_and_disable_start(recorder, store, hidden, message):
    at = _train_page()
    at.text_input(key="hidden_digits_vanilla").set_value(hidden).run()
    assert not at.exception, at.exception
    assert any(re.search(message, e.value) for e in at.error), [e.value for e in at.error]
    assert at.button(key="train_start").disabled  # AppTest, like a browser, cannot click it
    assert not recorder.configs and store.list() == []


@pytest.mark.parametrize("model, train, message", [
    ({"latent_dim": 0}, {}, "latent size must be between"),
    ({}, {"lr": 5.0}, r"learning rate must be in \(0, 1\]"),
    ({}, {"lr": float("nan")}, "learning rate"),
    ({}, {"epochs": 0}, "epochs"),
    ({}, {"batch_size": 0}, "batch"),
    ({}, {"seed": -3}, "seed must be between"),
], ids=["latent-0", "lr-5", "lr-nan", "epochs-0", "batch-0", "seed-neg"])
def test_run_configs_refuse_out_of_range_settings(model, train, message):
    """What the form relies on, and what the CLI and a script get."""
    with pytest.raises(InputError, match=message):
        make_config("wine", "vanilla", model=model, train=train)


# ---- background runs under faults ------------------------------------------------------------------------

@pytest.fixture
def manager(tmp_path):
    m = JobManager(RunStore(tmp_path / "runs"), max_parallel=1, poll_seconds=0.1)
    yield m
    m.shutdown()


_HOOK = textwrap.dedent('''
    """Test-only fault injection, loaded in spawned workers through PYTHONPATH. After each
    epoch: from epoch AE_TEST_DIVERGE_AT on the weights become NaN, as with a learning rate
    far too high; with AE_TEST_EPOCH_SLEEP the epoch takes that many seconds longer, so a
    run lasts long enough to be killed mid-training on a machine of any speed."""
    import importlib.abc, importlib.machinery, os, sys, time

    class _Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "ae_core.model.training":
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            real_exec = spec.loader.exec_module

            def exec_module(module):
                real_exec(module)
                at = int(os.environ.get("AE_TEST_DIVERGE_AT", "0"))
                pause = float(os.environ.get("AE_TEST_EPOCH_SLEEP", "0"))

                from ae_core.model.callbacks import Callback

                class Fault(Callback):
                    def on_epoch_end(self, trainer, epoch, logs):
                        if at and epoch + 1 >= at:
                            with __import__("torch").no_grad():
                                for p in trainer.model.parameters():
                                    p.fill_(float("nan"))
                        time.sleep(pause)

                real_fit = module.Trainer.fit

                def fit(self, *args, **kwargs):
                    self.callbacks = [*self.callbacks, Fault()]
                    return real_fit(self, *args, **kwargs)

                module.Trainer.fit = fit

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Hook())
''')


@pytest.fixture
def hooked_manager(tmp_path, monkeypatch):
    """make(**env): a job manager whose workers load _HOOK with `env` set. Without a standby
    worker: one spawned before the environment was set would train without the hook."""
    made = []

    def make(**env):
        hook = tmp_path / "hook"
        hook.mkdir(exist_ok=True)
        (hook / "sitecustomize.py").write_text(_HOOK)
        monkeypatch.setenv("PYTHONPATH", f"{hook}{os.pathsep}{ROOT}")
        for key, value in env.items():
            monkeypatch.setenv(key, str(value))
        made.append(JobManager(RunStore(tmp_path / "runs"), max_parallel=1, poll_seconds=0.1, standby=False))
        return made[-1]

    yield make
    for m in made:
        m.shutdown()


@pytest.mark.slow
def test_diverging_run_in_a_worker_fails_with_the_reason(hooked_manager):
    """End to end through the job manager. No learning rate the form accepts (<= 1) makes our
    models diverge (Adam, standardised and clipped inputs), so the worker's weights are made
    NaN after epoch 2, which is what a too-large step does."""
    manager = hooked_manager(AE_TEST_DIVERGE_AT=3)
    rec = manager.submit(make_config("wine", "vanilla", train={"epochs": 20, "patience": 50}))
    done = manager.wait(rec.id, timeout=120)
    assert done.status == "failed", (done.status, done.error)
    assert re.search(DIVERGED, done.error, re.I), done.error
    assert re.search(r"at epoch 3\b", done.error)
    assert "Traceback" not in done.error
    assert integrity(manager.store) == "ok"


@pytest.mark.slow
def test_sigkill_mid_epoch_leaves_a_loadable_checkpoint_and_resumes_with_the_same_history(hooked_manager):
    # Each epoch lasts at least 0.25 s, so on any machine the run outlives the 2 s between checkpoints.
    manager = hooked_manager(AE_TEST_EPOCH_SLEEP=0.25)
    store = manager.store
    rec = manager.submit(make_config("digits", "vanilla", train={"epochs": 30, "batch_size": 64, "patience": 100}))
    assert _wait(lambda: (store.read_json(rec.id, "checkpoint.json") or {}).get("epoch", 0) >= 2)
    time.sleep(0.37)  # somewhere in an epoch, between checkpoints
    assert store.get(rec.id).status == "running"
    pid = store.get(rec.id).pid
    os.kill(pid, signal.SIGKILL)
    t0 = time.time()
    assert _wait(lambda: store.get(rec.id).status == "interrupted", timeout=15)
    seconds = time.time() - t0
    assert seconds < 5.0, f"took {seconds:.1f} s to notice"
    assert integrity(store) == "ok"

    # The last good checkpoint loads into a model with plain safetensors.
    from ae_core.model.config import model_config_from_dict
    from ae_core.model.networks import Autoencoder
    from ae_core.runs.execute import load_checkpoint

    checkpoint = load_checkpoint(store, rec.id)  # safetensors.torch.load_file + the JSON beside it
    assert checkpoint is not None, sorted(p.name for p in store.folder(rec.id).iterdir())
    tensors, meta = checkpoint
    model = Autoencoder(model_config_from_dict(rec.config["model"]))
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    for f in store.folder(rec.id).glob("*.safetensors"):
        load_file(str(f))  # every weights file on disk is whole
    assert meta["epoch"] >= 2 and len(meta["history"]) == meta["epoch"]
    assert not list(store.folder(rec.id).glob(".*.tmp")), "a half-written file was left behind"
    before = meta["history"]

    manager.resume(rec.id)
    done = manager.wait(rec.id, timeout=120)
    assert done.status == "done", done.error
    history = store.read_json(rec.id, "history.json")
    assert [h["epoch"] for h in history] == list(range(1, 31))
    for old, new in zip(before, history):  # the epochs before the kill are kept exactly
        assert old["train_loss"] == pytest.approx(new["train_loss"], rel=1e-6)
        assert old["val_loss"] == pytest.approx(new["val_loss"], rel=1e-6)
    assert load_run(store, rec.id).latent.shape == (1797, 2)
    assert not store.has(rec.id, "checkpoint.json")  # superseded by the final weights


@pytest.mark.slow
def test_unwritable_run_folder_fails_the_run_with_that_reason(manager):
    """Tests run as root, where chmod does not stop writes: the run's folder is replaced by a
    plain file, so every artifact write fails (NotADirectoryError) in the worker."""
    store = manager.store
    finished = manager.submit(make_config("wine", "vanilla", train={"epochs": 2}))
    assert manager.wait(finished.id, timeout=120).status == "done"
    # Hold the queue with a long run, break the next run's folder while it waits, then let it go.
    blocker = manager.submit(make_config("wine", "vanilla", train={"epochs": 2000, "patience": 2000}))
    rec = manager.submit(make_config("wine", "vanilla", train={"epochs": 3}))
    shutil.rmtree(store.folder(rec.id))
    store.folder(rec.id).write_bytes(b"in the way")
    manager.cancel(blocker.id)
    done = manager.wait(rec.id, timeout=120)
    assert done.status == "failed", (done.status, done.error)
    assert "could not write the run's files" in done.error and "writable" in done.error
    assert "Traceback" not in done.error
    assert integrity(store) == "ok"
    assert store.get(finished.id).status == "done" and load_run(store, finished.id).latent.shape[0] == 178
    statuses = {r.id: r.status for r in store.list()}
    assert statuses == {finished.id: "done", blocker.id: "cancelled", rec.id: "failed"}
