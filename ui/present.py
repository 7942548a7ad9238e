"""Present mode: for a room, the pages without the sidebar and without the explanatory text.

On: the page list moves to the top bar (app.py), the sidebar is hidden, the "How this works" expanders
(`ui.state.how_it_works`) and captions are not drawn, and an "Exit presentation" button stays at the top.
`?present=1` in the URL opens a link in present mode; the run and each page's view come from the URL
as always (`ui.links`), since the sidebar's run picker is out of sight.
"""

from __future__ import annotations

import streamlit as st

KEY, PARAM = "present_on", "present"

# The sidebar (and the arrow that opens it) and every caption: what present mode leaves out. A constant style
# sheet, given to the page by a component without shadow DOM (no st.html in this app: tests/test_security.py).
_CSS = """
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"]
  { display: none !important; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] { display: none !important; }
.st-key-present_style { display: none; }
"""
_style = st.components.v2.component("ae_present", html="<span></span>", css=_CSS, isolate_styles=False)


def on() -> bool:
    """Whether this session presents (first read from the URL's `?present=1`)."""
    if KEY not in st.session_state:
        st.session_state[KEY] = st.query_params.get(PARAM) == "1"
    return st.session_state[KEY]


def _set(value: bool) -> None:
    st.session_state[KEY] = value
    if value:
        st.query_params[PARAM] = "1"
    elif PARAM in st.query_params:
        del st.query_params[PARAM]


def controls() -> None:
    """The way in (a sidebar button) or, when presenting, the style that hides things and the way out."""
    if on():
        _style(key="present_style")
        st.button("Exit presentation", key="present_exit", on_click=_set, args=(False,),
                  icon=":material/close_fullscreen:", type="tertiary")
    else:
        st.sidebar.button("Present", key="present_enter", on_click=_set, args=(True,), icon=":material/slideshow:",
                          help="Hide the sidebar and the explanations, for showing the app to a room. "
                               "Add ?present=1 to a link to open it this way.")
