"""ae_core.data.csv_lines: the lines of a CSV that do not fit its header."""

import numpy as np
import pytest

from ae_core.data.csv_io import read_csv
from ae_core.data.csv_lines import check_lines, renumber, skipped_records

TEXT = 'a,b,c\n1,2,3\n4,5\n"two\nlines",2,3\n\n7,8,9,10\n6\n1,2,3\n'  # short at data rows 1 and 5


@pytest.mark.parametrize("as_file", [False, True], ids=["text", "file"])
def test_short_lines_are_counted_but_not_quoted_newlines_or_empty_lines(tmp_path, as_file):
    source = TEXT
    if as_file:
        source = tmp_path / "t.csv"
        source.write_text(TEXT)
    counts = check_lines(source, encoding="utf-8", delimiter=",", has_header=True, width=3)
    assert (counts.short, counts.first_short, counts.replaced) == (2, 1, 0)
    assert counts.notes() == [("2 short line(s) (fewer fields than the header): their missing cells are left empty "
                               "and imputed; first at data row 1")]


def test_a_file_in_a_legacy_encoding_is_read_through_it_and_bad_bytes_counted(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("x;y\n1;2\nCafé;3\n4\n".encode("cp1252"))
    assert check_lines(path, encoding="cp1252", delimiter=";", has_header=True, width=2).short == 1
    path.write_bytes(b"x,y\n1,2\n\xff\xfe,3\n4\n")
    counts = check_lines(path, encoding="utf-8", delimiter=",", has_header=True, width=2)
    assert (counts.short, counts.first_short, counts.replaced) == (1, 2, 2)


def test_skipped_records_are_data_rows_and_the_kept_rows_are_numbered_around_them():
    warnings = ["Skipping line 7: expected 3 fields, saw 4\nSkipping line 9: expected 3 fields, saw 5\n"]
    assert skipped_records(warnings, has_header=True) == [5, 7]
    assert skipped_records(warnings, has_header=False) == [6, 8]
    kept = renumber(np.arange(8), [5, 7])
    np.testing.assert_array_equal(kept, [0, 1, 2, 3, 4, 6, 8, 9])
    np.testing.assert_array_equal(renumber(np.arange(3), []), [0, 1, 2])


def test_the_in_memory_reader_reports_short_and_ragged_lines_alike():
    _, _, _, notes = read_csv(TEXT.encode())
    assert "1 ragged line(s) skipped (more fields than the header); first at data row 4" in notes
    assert any(n.startswith("2 short line(s) (fewer fields than the header)") for n in notes)
