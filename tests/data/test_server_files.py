"""Tables on the server: only files inside the configured data folder, whatever the path says."""

import os

import pytest

from ae_core.data.server_files import (
    DATA_DIR_ENV,
    data_dir,
    list_server_tables,
    server_table,
)
from ae_core.errors import InputError


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "tables"
    (folder / "2024").mkdir(parents=True)
    (folder / "sales.csv").write_text("a,b\n1,2\n")
    (folder / "2024" / "q1.parquet").write_bytes(b"PAR1")
    (tmp_path / "secret.csv").write_text("password,x\n1,2\n")
    return folder


@pytest.mark.parametrize("name", ["sales.csv", "2024/q1.parquet", "2024/../sales.csv", " sales.csv "])
def test_a_table_inside_the_folder_is_found(root, name):
    assert server_table(name, root=root).parent.resolve() in (root.resolve(), (root / "2024").resolve())


def test_an_absolute_path_inside_the_folder_is_allowed(root):
    assert server_table(str(root / "sales.csv"), root=root) == (root / "sales.csv").resolve()


@pytest.mark.parametrize("name", ["../secret.csv", "2024/../../secret.csv", "/etc/passwd"])
def test_a_path_outside_the_folder_is_refused(root, name):
    with pytest.raises(InputError, match="outside the server's data folder"):
        server_table(name, root=root)


def test_a_symlink_pointing_outside_is_refused(root):
    (root / "link.csv").symlink_to(root.parent / "secret.csv")
    (root / "linked-dir").symlink_to(root.parent, target_is_directory=True)
    for name in ("link.csv", "linked-dir/secret.csv"):
        with pytest.raises(InputError, match="outside the server's data folder"):
            server_table(name, root=root)
    assert "link.csv" not in list_server_tables(root)


def test_a_missing_file_names_what_is_there(root):
    with pytest.raises(InputError, match=r"no file 'nope.csv'.*2024/q1.parquet, sales.csv"):
        server_table("nope.csv", root=root)


def test_a_file_that_is_not_a_table_is_refused(root):
    (root / "notes.pdf").write_bytes(b"%PDF")
    with pytest.raises(InputError, match="not a table"):
        server_table("notes.pdf", root=root)


def test_a_missing_folder_says_how_to_set_it(tmp_path):
    with pytest.raises(InputError, match=DATA_DIR_ENV):
        server_table("sales.csv", root=tmp_path / "absent")


def test_the_folder_comes_from_the_environment(monkeypatch, root):
    monkeypatch.setenv(DATA_DIR_ENV, str(root))
    assert data_dir() == root and server_table("sales.csv") == (root / "sales.csv").resolve()
    monkeypatch.delenv(DATA_DIR_ENV)
    assert data_dir().parts[-2:] == ("data", "tables") and os.path.isabs(data_dir())
