"""Logging for every process of the explorer: the server, the job manager, training workers, the UMAP helper
and the command line.

Modules log through ``logging.getLogger(__name__)``; the process that starts calls :func:`setup_logging`
once, which sends the ``ae_core`` and ``ui`` loggers to stderr and to a rotating file beside the runs
(``<runs root>/logs/explorer.log``), so a worker's error is found in one place after the fact.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

LOGGERS = ("ae_core", "ui")
FILE_NAME = "explorer.log"
FILE_BYTES = 5_000_000  # per file; 3 old files are kept
FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
_MARK = "_ae_handler"  # our handlers carry their kind here, so a second call adds none


def log_dir(root) -> Path:
    return Path(root) / "logs"


def setup_logging(root=None, level: str | int | None = None, stderr: bool = True) -> None:
    """Send our loggers to stderr (unless `stderr` is False) and, with a runs `root`, to its rotating log
    file (a later call with another root moves the file there). The level comes from `level`, else
    $AE_LOG_LEVEL, else INFO. Idempotent: a second call with the same arguments adds nothing."""
    level = level or os.environ.get("AE_LOG_LEVEL", "INFO")
    wanted = {"stderr": stderr, "file": root is not None}
    target = None if root is None else str(log_dir(root) / FILE_NAME)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False  # Streamlit configures the root logger; ours must not print twice
        for h in list(logger.handlers):
            if getattr(h, _MARK, None) == "file" and target is not None and h.baseFilename != target:
                logger.removeHandler(h)
                h.close()
        present = {getattr(h, _MARK) for h in logger.handlers if hasattr(h, _MARK)}
        for kind in (k for k, on in wanted.items() if on and k not in present):
            logger.addHandler(_handler(kind, root))


def _handler(kind: str, root) -> logging.Handler:
    if kind == "stderr":
        handler: logging.Handler = logging.StreamHandler()
    else:
        folder = log_dir(root)
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(folder / FILE_NAME, maxBytes=FILE_BYTES, backupCount=3,
                                                       encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter(FORMAT))
    setattr(handler, _MARK, kind)
    return handler
