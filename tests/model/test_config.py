"""Model configs and the Train form's parsing (ae_core.model.config)."""

from __future__ import annotations

import pytest

from ae_core.errors import InputError
from ae_core.model.config import parse_sizes


def test_parse_sizes_accepts_commas_and_spaces():
    assert parse_sizes("256, 128") == (256, 128)
    assert parse_sizes("64") == (64,)


@pytest.mark.parametrize("text, match", [("", "at least one"), ("256,abc", "whole numbers"), ("0,5", "between 1")],
                         ids=["empty", "not-a-number", "zero"])
def test_parse_sizes_rejects_bad_text(text, match):
    with pytest.raises(InputError, match=match):
        parse_sizes(text)
