"""Device choice (ae_core.model.device) and what a run records about where it trained, on a CPU-only machine."""

import json

import numpy as np
import pytest
import torch

from ae_core.cli import main
from ae_core.errors import InputError
from ae_core.estimator import Autoencoder
from ae_core.model.device import check_device_name, resolve_device
from ae_core.runs.spec import make_config
from ae_core.runs.summary import placement, training_facts


@pytest.fixture
def no_gpu(monkeypatch):
    """This machine as a CPU-only one, whatever torch build runs the tests."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_auto_falls_back_to_cpu_without_a_gpu(no_gpu):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "CUDA"])
def test_explicit_cuda_without_a_gpu_is_an_input_error(no_gpu, name):
    with pytest.raises(InputError, match="PyTorch sees no CUDA GPU here.*Use device 'auto' or 'cpu'"):
        resolve_device(name)


def test_explicit_mps_without_mps_is_an_input_error(no_gpu):
    with pytest.raises(InputError, match="MPS is not available"):
        resolve_device("mps")


@pytest.mark.parametrize("name", ["gpu", "cpu:1", "cuda:x", "tpu", ""])
def test_unknown_device_names_are_refused(name):
    with pytest.raises(InputError, match="device must be one of auto, cpu, cuda, mps"):
        check_device_name(name)


def test_run_config_stores_the_device_and_refuses_a_bad_name():
    assert make_config("wine", "vanilla")["device"] == "auto"
    assert make_config("wine", "vanilla", device="cuda")["device"] == "cuda"  # checked where the run trains
    with pytest.raises(InputError, match="device must be one of"):
        make_config("wine", "vanilla", device="gpu")


def test_estimator_refuses_cuda_without_a_gpu_and_records_its_device(no_gpu):
    X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    with pytest.raises(InputError, match="no CUDA GPU"):
        Autoencoder(epochs=1, device="cuda", random_state=0).fit(X)
    ae = Autoencoder(epochs=2, random_state=0).fit(X)
    assert ae.device_ == "cpu"


def test_cli_train_with_cuda_and_no_gpu_exits_2_and_creates_no_run(no_gpu, tmp_path, capsys):
    code = main(["train", "--dataset", "wine", "--epochs", "1", "--device", "cuda", "--runs-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: device 'cuda' was asked for") and err.count("\n") == 1
    assert not any(p.is_dir() for p in tmp_path.iterdir())


def test_a_run_records_its_device_place_and_epoch_time(tmp_path, capsys):
    code = main(["train", "--dataset", "wine", "--epochs", "3", "--device", "cpu", "--runs-dir", str(tmp_path),
                 "--json"])
    assert code == 0
    m = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert m["device"] == "cpu" and m["where"] == "local"
    assert 0 < m["epoch_seconds"] <= m["train_seconds"]
    facts = dict(training_facts(m))
    assert facts["trained on"] == "local · cpu"
    assert facts["time per epoch"].endswith(" s")


def test_a_failed_device_check_on_the_worker_fails_the_run_with_the_reason(no_gpu, store):
    from ae_core.runs.execute import execute_run

    rec = store.create(make_config("wine", "vanilla", train={"epochs": 2}, device="cuda"))
    assert execute_run(store, rec.id) == "failed"
    assert "no CUDA GPU" in store.get(rec.id).error


def test_placement_reads_progress_or_metrics():
    assert placement({}) == ""
    assert placement({"where": "ray 10.0.0.5 GPU 1", "device": "cuda:0 (NVIDIA H100)"}) == \
        "ray 10.0.0.5 GPU 1 · cuda:0 (NVIDIA H100)"


@pytest.mark.parametrize("flags, native", [({"avx2", "fma"}, False), ({"avx512f", "avx512_bf16"}, True),
                                           ({"amx_bf16", "amx_tile"}, True), (set(), False)],
                         ids=["avx2", "avx512-bf16", "amx", "unknown"])
def test_a_cpu_computes_bfloat16_natively_only_with_amx_or_avx512_bf16(monkeypatch, flags, native):
    from ae_core.model import device

    monkeypatch.setattr(device, "_cpu_flags", lambda: flags)
    assert device.native_bf16("cpu") is native
