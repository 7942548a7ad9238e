"""Tables already on the server: a path under one configured folder, for files too big for a browser upload.

The folder is ``$AE_DATA_DIR``, else ``data/tables`` in the repository. A name is taken relative to it
(an absolute path is allowed when it lies inside it); the path is resolved, symlinks included, before
the check, so neither ``..`` nor a link pointing elsewhere reaches a file outside the folder.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); _ = (root / "sales.csv").write_text("a,b\\n1,2\\n")
    >>> server_table("sales.csv", root=root).name
    'sales.csv'
"""

from __future__ import annotations

import os
from pathlib import Path

from ae_core.errors import InputError

DATA_DIR_ENV = "AE_DATA_DIR"
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet")


def data_dir() -> Path:
    """`$AE_DATA_DIR`, else `data/tables` in the repository (not necessarily existing)."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data" / "tables"


def server_table(name, root=None) -> Path:
    """The resolved path of table `name` inside the data folder, or an InputError that says why not.

    Parameters
    ----------
    name : str or os.PathLike
        Relative to the folder (``"2024/sales.parquet"``), or absolute but inside it.
    root : path, optional
        The folder; default :func:`data_dir`.

    Returns
    -------
    Path
        With every symlink resolved; a file with a table suffix (``.csv .tsv .txt .parquet``).
    """
    base = Path(root) if root is not None else data_dir()
    if not base.is_dir():
        raise InputError(f"the server's data folder {base} does not exist; create it and put the table there "
                         f"(or set {DATA_DIR_ENV} to the folder that holds your tables).")
    base = base.resolve()
    text = str(name).strip()
    if not text or "\x00" in text:
        raise InputError("give the name of a table in the server's data folder, e.g. sales.parquet.")
    path = (base / text).resolve()  # an absolute `text` replaces base; strict=False: missing is reported below
    if not path.is_relative_to(base):
        raise InputError(f"'{text}' is outside the server's data folder {base} (after following '..' and "
                         f"symlinks); only files inside it can be read. Copy or move the file there.")
    if not path.is_file():
        raise InputError(f"no file '{text}' in the server's data folder {base}; tables there: "
                         f"{', '.join(list_server_tables(base)[:20]) or 'none'}.")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(f"'{text}' is not a table; the server reads {', '.join(TABLE_SUFFIXES)} files.")
    return path


def list_server_tables(root=None) -> list[str]:
    """Names (relative to the data folder, sorted) of the tables a person may pick; [] without the folder."""
    base = Path(root) if root is not None else data_dir()
    if not base.is_dir():
        return []
    base = base.resolve()
    names = []
    for path in base.rglob("*"):
        if path.suffix.lower() in TABLE_SUFFIXES and path.is_file() and path.resolve().is_relative_to(base):
            names.append(path.relative_to(base).as_posix())
    return sorted(names)
