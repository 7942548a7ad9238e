"""This browser session's role (viewer or editor) and the sidebar's sign-in, from `ae_core.access`'s rules.

The decision is `ae_core.access.decide_role`, fed here from `AE_MODE`, `.streamlit/secrets.toml`
(`[auth]` for st.login, `[access]` for the editor list and password), `st.user` and this session's
password unlock. Pages ask `is_editor()` to hide what changes the store; `ui.state` asks
`require_editor()` in the functions that change it, so a request the page never offered is refused too.
"""

from __future__ import annotations

import logging
import os

import streamlit as st

from ae_core.access import (
    EDITOR,
    VIEWER,
    AccessSettings,
    NotAllowed,
    PasswordGate,
    StartLimit,
    TooManyAttempts,
    decide_role,
    parse_mode,
)

log = logging.getLogger(__name__)

UNLOCKED_KEY = "access_unlocked"  # this session entered the editor password


def mode() -> str:
    """`AE_MODE` (viewer | editor; `scripts/app.sh --viewer` sets viewer)."""
    return parse_mode(os.environ.get("AE_MODE"))


def settings() -> AccessSettings:
    """[auth] and [access] from secrets.toml (read on every call: cheap, and an edited file takes effect).

    A secrets file that exists but cannot be read fails closed: everyone is a viewer (with a password
    or a provider in a broken file, the mode alone would otherwise let everybody edit)."""
    if st.secrets.load_if_toml_exists():
        return AccessSettings.from_secrets(st.secrets.to_dict())
    from streamlit import config

    broken = [f for f in config.get_option("secrets.files") if os.path.isfile(f)]
    if broken:
        log.error("cannot read %s: every session is a viewer until it is fixed", ", ".join(broken))
        return AccessSettings(identity_provider=True)  # a provider with no editors: nobody edits
    return AccessSettings()


def _signed_in() -> bool:
    # st.user.is_logged_in, read with get(): st.user lacks the key where Streamlit does not see the [auth] section
    return bool(st.user.get("is_logged_in"))


def _email(s: AccessSettings) -> str | None:
    if not s.identity_provider or not _signed_in():
        return None
    return st.user.get("email")


def role() -> str:
    s = settings()
    return decide_role(mode(), _email(s), s, bool(st.session_state.get(UNLOCKED_KEY)))


def is_editor() -> bool:
    return role() == EDITOR


def viewers_possible() -> bool:
    """Whether anyone reaching this server can be a viewer (viewer mode, a provider or a password)."""
    s = settings()
    return mode() == VIEWER or s.identity_provider or bool(s.editor_password)


def require_editor(action: str) -> None:
    """Raise NotAllowed unless this session is an editor: the server-side check behind every control
    that changes the run store, whether or not the page drew it."""
    if not is_editor():
        log.warning("refused for a viewer: %s", action)
        raise NotAllowed(f"This is a view-only session: {action} is not allowed. Editors sign in in the sidebar.")


def session_id() -> str:
    """A random id for this browser session (kept in its session state), keying its rate limits."""
    if "access_session" not in st.session_state:
        import secrets

        st.session_state["access_session"] = secrets.token_hex(8)
    return st.session_state["access_session"]


@st.cache_resource(show_spinner=False)
def _gate() -> PasswordGate:
    """One per server: failed tries are counted across every session."""
    return PasswordGate(per_session=int(os.environ.get("AE_PASSWORD_TRIES", "5")), overall=30, window=60.0)


@st.cache_resource(show_spinner=False)
def _starts() -> StartLimit:
    return StartLimit(limit=int(os.environ.get("AE_MAX_STARTS", "10")), window=60.0)


def allow_starts(n: int = 1) -> None:
    """Count `n` run starts against this session's limit (TooManyAttempts when over it)."""
    _starts().allow(session_id(), n)


def _unlock() -> None:
    """The password form's submit: compare, count a failure, never log or keep the password."""
    given = st.session_state.pop("access_password", "") or ""
    try:
        ok = _gate().try_password(session_id(), given, settings().editor_password)
    except TooManyAttempts as exc:
        st.session_state["access_message"] = str(exc)
        return
    if ok:
        st.session_state[UNLOCKED_KEY] = True
        st.session_state.pop("access_message", None)
        log.info("a session unlocked editing with the editor password")
    else:
        st.session_state["access_message"] = "Wrong password."
        log.warning("wrong editor password from a session")


def _lock() -> None:
    st.session_state.pop(UNLOCKED_KEY, None)


def sidebar() -> None:
    """Who you are and how to become an editor, at the bottom of the sidebar."""
    s = settings()
    box = st.sidebar.container(key="access_box")
    if s.identity_provider and not st.secrets.load_if_toml_exists():  # settings() failed closed
        box.caption("View only: the secrets file cannot be read, so nobody can sign in until it is fixed.")
    elif s.identity_provider:
        if _signed_in():
            box.caption(f"Signed in as {st.user.get('email') or st.user.get('name') or 'you'} · {role()}")
            if box.button("Sign out", key="access_logout", icon=":material/logout:"):
                st.logout()
        else:
            box.caption("Viewing only. Editors sign in to train and manage runs.")
            if box.button("Sign in", key="access_login", icon=":material/login:"):
                st.login()
    elif s.password_unlocks:
        if st.session_state.get(UNLOCKED_KEY):
            box.caption("Editing unlocked for this browser tab.")
            box.button("Lock editing", key="access_lock", on_click=_lock, icon=":material/lock:")
        else:
            with box.expander("Editor sign-in", icon=":material/lock_open:"):
                with st.form("access_form", clear_on_submit=True, border=False):
                    st.text_input("Editor password", type="password", key="access_password")
                    st.form_submit_button("Unlock editing", on_click=_unlock)
                if message := st.session_state.pop("access_message", None):
                    st.error(message, icon=":material/lock:")
    elif mode() == VIEWER:
        box.caption("View-only demo: finished runs, nothing can be changed.")
