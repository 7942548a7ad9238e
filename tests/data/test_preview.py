"""The Train page's dataset facts and first rows (ae_core.data.preview)."""

from __future__ import annotations

from ae_core.data.preview import dataset_facts, preview_table
from ae_core.data.registry import load_dataset


def test_dataset_facts_and_preview_table():
    ds = load_dataset("wine")
    facts = dict(dataset_facts(ds))
    assert facts["rows"] == "178" and facts["features"] == "13" and facts["classes"].startswith("3:")
    df = preview_table(ds, 5)
    assert df.shape == (5, 14) and df.columns[0] == "class"
    assert "image size" in dict(dataset_facts(load_dataset("digits")))
