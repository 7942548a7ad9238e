"""`python -m ae_core`: the contracts in DESIGN.md."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ae_core.cli import main

REPO = Path(__file__).resolve().parent.parent


def _csv(path, n=120, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 3, n)
    df = pd.DataFrame({"a": t, "b": np.sin(t), "c": t**2, "d": rng.normal(size=n), "kind": np.where(t > 1.5, "hi", "lo")})
    df.to_csv(path, index=False)
    return path


def test_train_json_prints_metrics_on_last_line(tmp_path, capsys):
    rc = main(["train", "--dataset", "wine", "--epochs", "5", "--runs-dir", str(tmp_path), "--json"])
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = json.loads(last)
    assert m["dataset"] == "wine" and m["test_mse"] > 0 and "ae_pca_ratio" in m


def test_trained_run_is_listed(tmp_path, capsys):
    main(["train", "--dataset", "wine", "--epochs", "2", "--runs-dir", str(tmp_path)])
    main(["runs", "--runs-dir", str(tmp_path), "--json"])
    runs = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(runs) == 1 and runs[0]["status"] == "done"


@pytest.mark.parametrize("method", ["latent", "pca", "tsne"])
def test_embed_writes_one_row_per_input_row_with_row_number(tmp_path, capsys, method):
    src, out = _csv(tmp_path / "in.csv"), tmp_path / "out.csv"
    rc = main(["embed", str(src), "--out", str(out), "--method", method, "--label-column", "kind", "--epochs", "5"])
    assert rc == 0
    if method == "tsne":  # long work says what it is doing (a bar on a terminal; this line always)
        assert "t-SNE on 120 points…" in capsys.readouterr().err
    df = pd.read_csv(out)
    assert list(df.columns) == ["row", "kind", f"{method}_1", f"{method}_2"]
    assert df["row"].tolist() == list(range(120))
    assert np.isfinite(df[[f"{method}_1", f"{method}_2"]].to_numpy()).all()


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"a,b\n", "no data rows|header"),
    (b"x,name\n1,a\n2,b\n3,c\n4,d\n5,e\n6,f\n7,g\n8,h\n9,i\n10,j\n11,k\n", "at least 2 numeric columns"),
    (b"PK\x03\x04\x14\x00\x00\x00binaryjunk" * 20, "zip|spreadsheet|CSV"),
])
def test_embed_bad_input_exits_2_with_one_error_line_and_writes_nothing(tmp_path, content, match):
    src, out = tmp_path / "bad.csv", tmp_path / "out.csv"
    src.write_bytes(content)
    proc = subprocess.run([sys.executable, "-m", "ae_core", "embed", str(src), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    import re

    assert re.search(match, lines[0], re.I), lines[0]
    assert not out.exists()


@pytest.mark.parametrize("argv,match", [
    (["train", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["train", "--dataset", "wine", "--variant", "convolutional"], "needs image data"),
    (["train", "--lr", "50"], "learning rate must be"),
    (["train", "--dataset", "wine", "--mirror", "on"], "mirroring flips images"),
    (["train", "--dataset", "wine", "--shift", "on"], "shifting moves images by a pixel"),
    (["train", "--bogus"], "unrecognized arguments"),
    (["embed", "missing.csv", "--out", "x.csv"], "no such file"),
    (["runs", "--delete", "../../etc"], "is not a run id"),
])
def test_user_mistakes_exit_2_with_error_line(tmp_path, capsys, argv, match):
    assert main(argv + (["--runs-dir", str(tmp_path)] if argv[0] != "embed" else [])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and match in err[-1]


def test_datasets_lists_the_default(capsys):
    assert main(["datasets", "--json"]) == 0
    names = [d["name"] for d in json.loads(capsys.readouterr().out)]
    assert names[0] == "digits" and {"swiss-roll", "outliers", "mnist", "fashion-mnist"} <= set(names)
