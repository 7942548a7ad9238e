"""The Upload page's 'table on the server' (AppTest): files under $AE_DATA_DIR are offered and read where
they lie; without such files the choice is not shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "upload.py")


def _page():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(PAGE, default_timeout=60)


def test_a_table_on_the_server_is_prepared_where_it_lies(store, tmp_path, monkeypatch):
    folder = tmp_path / "tables"
    folder.mkdir()
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40), "kind": rng.choice(["x", "y"], 40)}).to_parquet(
        folder / "big.parquet")
    monkeypatch.setenv("AE_DATA_DIR", str(folder))
    at = _page().run()
    choice = at.selectbox(key="upload_server_table")
    assert choice.options == ["(none)", "big.parquet"]
    choice.set_value("big.parquet").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows read"] == "40" and metrics["Encoding"] == "Parquet"
    assert not (store.root / "uploads").exists()  # read where it lies, never copied into the store


def test_no_server_tables_no_choice(store, tmp_path, monkeypatch):
    monkeypatch.setenv("AE_DATA_DIR", str(tmp_path / "absent"))
    at = _page().run()
    assert not at.exception and not [s for s in at.selectbox if s.key == "upload_server_table"]
