"""The page's shareable state in the URL (`ae_core.links` does the encoding; this reads and writes st.query_params).

A page reads its fields before drawing its widgets and uses the values as the widgets' defaults: a
session opened from a link starts where the sender was, and a session that already chose something
keeps it (a widget's own state wins over its default). After the widgets, the page writes what is
chosen now, so the address bar always holds a link to the current view. `?run=` stays `ui.state`'s.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from ae_core import links


def read(fields: Mapping[str, links.Field]) -> dict:
    """Every field's value from the URL, or its default where the URL has none or a bad one."""
    return links.decode(st.query_params.to_dict(), fields)


def write(values: Mapping, fields: Mapping[str, links.Field]) -> None:
    """Put `values` in the URL (defaults and selections too long for a link are left out)."""
    wanted = links.encode(values, fields)
    for name in fields:
        if name in wanted:
            if st.query_params.get(name) != wanted[name]:
                st.query_params[name] = wanted[name]
        elif name in st.query_params and name in values:
            del st.query_params[name]
