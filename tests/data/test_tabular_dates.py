"""Dates and times in tables become numbers (ae_core.data.tabular): a timestamp, and the year, month, day of week
and hour where they vary, instead of a unique-per-row column dropped as id-like."""

import numpy as np
import pandas as pd
import pytest

from ae_core.data.tabular import prepare_table

N = 40


def table(**columns) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=N), "b": rng.normal(size=N), **columns})


def features(t, column: str) -> list[str]:
    return [f for f in t.feature_names if f.startswith(column)]


def test_timestamps_unique_per_row_become_features_not_ids():
    when = pd.date_range("2023-11-20 08:00", periods=N, freq="37h")
    t = prepare_table(table(when=when.strftime("%Y-%m-%d %H:%M")))
    assert features(t, "when") == ["when (days since 1970)", "when: year", "when: month", "when: day of week",
                                   "when: hour"]
    assert "when" not in dict(t.report.dropped)
    assert dict(t.report.converted)["when"] == ("date/time as days since 1970, year, month, "
                                                "day of week (Monday = 0), hour")
    col = {f: t.X[:, t.feature_names.index(f)] for f in features(t, "when")}
    expected_days = (when - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
    np.testing.assert_allclose(col["when (days since 1970)"], expected_days, rtol=1e-6)
    assert col["when: year"].tolist() == when.year.tolist() and col["when: hour"][0] == 8.0
    assert col["when: day of week"][0] == when[0].day_of_week


def test_only_the_parts_that_vary_become_features():
    days = pd.date_range("2024-03-01", periods=N, freq="D")  # one year, two months, midnight
    t = prepare_table(table(day=days.strftime("%Y-%m-%d")))
    assert features(t, "day") == ["day (days since 1970)", "day: month", "day: day of week"]


def test_day_first_dates_are_read_day_first():
    days = pd.date_range("2024-01-01", periods=N, freq="D")  # 13/01/2024 only fits day-first
    t = prepare_table(table(d=days.strftime("%d/%m/%Y")))
    months = t.X[:, t.feature_names.index("d: month")]
    assert months.tolist() == days.month.tolist()


def test_datetime_columns_of_a_dataframe_and_time_zones():
    when = pd.date_range("2024-06-01 22:30", periods=N, freq="5h", tz="Europe/Berlin")
    t = prepare_table(table(when=when))
    hours = t.X[:, t.feature_names.index("when: hour")]
    assert hours[0] == 20.5  # 22:30 in Berlin in June is 20:30 UTC


def test_a_few_missing_or_unreadable_dates_are_filled_later():
    text = pd.date_range("2024-01-01", periods=N, freq="W").strftime("%Y-%m-%d").tolist()
    text[3], text[7] = "", "not a date"
    t = prepare_table(table(d=text))
    assert np.isnan(t.X[3, t.feature_names.index("d (days since 1970)")])
    assert "2 missing or unreadable date(s)" in dict(t.report.converted)["d"] and t.report.n_imputed >= 2


@pytest.mark.parametrize("values,reason", [
    ([f"A-{i:03d}" for i in range(N)], "id-like"),
    (["2024-01-01"] * N, "constant"),
    ([f"2024-01-{i % 28 + 1:02d}" if i % 3 else f"code {i}" for i in range(N)], "free text"),
], ids=["codes", "one-date", "mostly-not-dates"])
def test_text_that_is_not_a_varying_date_is_not_read_as_one(values, reason):
    t = prepare_table(table(c=values))
    assert dict(t.report.dropped)["c"].startswith(reason) and not features(t, "c")
