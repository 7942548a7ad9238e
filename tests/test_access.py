"""Roles, the editor password and the rate limits (ae_core.access): plain functions, no Streamlit, no provider."""

from __future__ import annotations

import logging

import pytest

from ae_core.access import (
    EDITOR,
    VIEWER,
    AccessSettings,
    PasswordGate,
    SlidingWindow,
    StartLimit,
    TooManyAttempts,
    check_password,
    decide_role,
    parse_mode,
)
from ae_core.errors import InputError

OIDC = AccessSettings(identity_provider=True, editors=frozenset({"ana@example.com"}))
PASSWORD = AccessSettings(editor_password="s3cret-demo")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("value, mode", [(None, EDITOR), ("", EDITOR), ("editor", EDITOR), (" VIEWER ", VIEWER)])
def test_parse_mode(value, mode):
    assert parse_mode(value) == mode


def test_parse_mode_rejects_unknown_values():
    with pytest.raises(InputError, match="AE_MODE must be 'viewer' or 'editor'"):
        parse_mode("admin")


@pytest.mark.parametrize(
    "mode, email, settings, unlocked, role",
    [
        ("editor", None, AccessSettings(), False, EDITOR),  # a laptop: today's app
        ("viewer", None, AccessSettings(), False, VIEWER),  # a read-only demo, no way in
        ("viewer", None, AccessSettings(), True, VIEWER),  # no password configured: "unlocked" means nothing
        ("editor", None, OIDC, False, VIEWER),  # a provider: nobody signed in is a viewer
        ("editor", "bob@example.com", OIDC, False, VIEWER),  # signed in, not an editor
        ("viewer", "ana@example.com", OIDC, False, EDITOR),  # listed editor, even on a viewer server
        ("editor", " Ana@Example.COM ", OIDC, False, EDITOR),  # e-mails compare case-insensitively
        ("editor", "ana@example.com", OIDC, True, EDITOR),
        ("editor", "bob@example.com", AccessSettings(identity_provider=True, editor_password="x"), True, VIEWER),
        ("editor", None, PASSWORD, False, VIEWER),  # a password protects editing in either mode
        ("viewer", None, PASSWORD, False, VIEWER),
        ("viewer", None, PASSWORD, True, EDITOR),
    ],
    ids=["laptop", "viewer-mode", "viewer-mode-unlocked-nothing", "oidc-anonymous", "oidc-not-listed",
         "oidc-editor-on-viewer-server", "oidc-case", "oidc-editor-unlocked", "oidc-ignores-password",
         "password-locked", "password-locked-viewer", "password-unlocked"],
)
def test_decide_role(mode, email, settings, unlocked, role):
    assert decide_role(mode, email, settings, unlocked) == role


def test_decide_role_rejects_an_unknown_mode():
    with pytest.raises(InputError, match="unknown mode"):
        decide_role("admin", None, AccessSettings())


def test_settings_from_secrets():
    s = AccessSettings.from_secrets({"auth": {"redirect_uri": "x", "cookie_secret": "y"},
                                     "access": {"editors": ["Ana@Example.com", " "], "editor_password": "pw"}})
    assert s.identity_provider and s.editors == {"ana@example.com"} and s.editor_password == "pw"
    assert not s.password_unlocks  # the provider decides
    empty = AccessSettings.from_secrets({})
    assert empty == AccessSettings() and not empty.password_unlocks
    assert AccessSettings.from_secrets({"access": {"editor_password": "pw"}}).password_unlocks


@pytest.mark.parametrize("access, match", [({"editors": "ana@example.com"}, "list of e-mail"),
                                           ({"editor_password": 1234}, "string in quotes")],
                         ids=["editors-as-string", "password-as-number"])
def test_settings_reject_bad_shapes(access, match):
    with pytest.raises(InputError, match=match):
        AccessSettings.from_secrets({"access": access})


def test_settings_repr_hides_the_password():
    assert "s3cret" not in repr(PASSWORD)


@pytest.mark.parametrize("given, ok", [("s3cret-demo", True), ("s3cret-dem", False), ("S3CRET-DEMO", False),
                                       ("", False), ("s3cret-demo ", False), ("ünïcode", False)])
def test_check_password(given, ok):
    assert check_password(given, "s3cret-demo") is ok


def test_an_unset_password_never_matches():
    assert not check_password("", "")


def test_check_password_compares_in_constant_time(monkeypatch):
    """The comparison is hmac.compare_digest's, not ==, which stops at the first differing byte."""
    import hmac

    seen = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: seen.append((a, b)) or real(a, b))
    assert check_password("abc", "abc")
    assert seen == [(b"abc", b"abc")]


def test_sliding_window_forgets_old_events():
    clock = Clock()
    w = SlidingWindow(2, 10.0, clock)
    w.hit("a"), w.hit("a")
    assert w.wait("a") == pytest.approx(10.0) and w.wait("b") == 0
    clock.now += 4
    assert w.wait("a") == pytest.approx(6.0)
    clock.now += 6
    assert w.wait("a") == 0
    assert not w._events  # idle keys are dropped: memory does not grow with sessions


def test_sliding_window_take_is_all_or_nothing():
    clock = Clock()
    w = SlidingWindow(3, 60.0, clock)
    assert w.take("a", 2) == 0
    assert w.take("a", 2) == pytest.approx(60.0)  # only one slot left: nothing recorded
    assert w.take("a", 1) == 0
    assert w.take("a", 4) == float("inf")


def test_password_gate_limits_a_session_then_lets_it_try_again():
    clock = Clock()
    gate = PasswordGate(per_session=3, overall=100, window=60.0, clock=clock)
    for _ in range(3):
        assert gate.try_password("tab1", "guess", "right") is False
    with pytest.raises(TooManyAttempts, match=r"Try again in 60 s") as exc:
        gate.try_password("tab1", "right", "right")  # refused before comparing, even the right one
    assert exc.value.retry_after == pytest.approx(60.0)
    assert gate.try_password("tab2", "right", "right") is True  # another session is not blocked
    clock.now += 45
    with pytest.raises(TooManyAttempts, match=r"Try again in 15 s"):
        gate.try_password("tab1", "guess", "right")
    clock.now += 15
    assert gate.try_password("tab1", "right", "right") is True


def test_password_gate_limits_all_sessions_together():
    """New sessions do not buy new guesses: the server-wide count stops them."""
    clock = Clock()
    gate = PasswordGate(per_session=5, overall=4, window=60.0, clock=clock)
    for i in range(4):
        assert gate.try_password(f"tab{i}", "guess", "right") is False
    with pytest.raises(TooManyAttempts, match="Try again in"):
        gate.try_password("fresh-tab", "right", "right")


def test_a_right_password_clears_the_session_count():
    clock = Clock()
    gate = PasswordGate(per_session=2, overall=100, window=60.0, clock=clock)
    assert not gate.try_password("t", "x", "right")
    assert gate.try_password("t", "right", "right")
    assert not gate.try_password("t", "x", "right")  # one failure after the reset: not blocked yet
    assert not gate.try_password("t", "x", "right")


def test_password_never_reaches_the_log(caplog):
    caplog.set_level(logging.DEBUG)
    gate = PasswordGate(per_session=1, overall=10, window=60.0, clock=Clock())
    gate.try_password("t", "wrong-guess-123", "s3cret-demo")
    with pytest.raises(TooManyAttempts) as exc:
        gate.try_password("t", "s3cret-demo", "s3cret-demo")
    assert "s3cret" not in caplog.text and "wrong-guess" not in caplog.text
    assert "s3cret" not in str(exc.value)


def test_start_limit_per_session():
    clock = Clock()
    limit = StartLimit(limit=3, window=60.0, clock=clock)
    limit.allow("tab1", 2)
    with pytest.raises(TooManyAttempts, match=r"At most 3 runs .* Try again in 60 s"):
        limit.allow("tab1", 2)  # a batch that does not fit is refused whole
    limit.allow("tab1")
    limit.allow("tab2", 3)
    clock.now += 60
    limit.allow("tab1", 3)
    with pytest.raises(TooManyAttempts, match="At most 3 runs"):
        limit.allow("tab3", 4)
