"""Who may change the run store: the role decision, the editor password check and its rate limits.

Plain functions of the mode, the signed-in user and the settings, so tests decide roles without
Streamlit or an identity provider; `ui/access.py` feeds them from the environment, `st.secrets`,
`st.user` and the session.

- **Viewer**: looks at finished runs; cannot train, upload, delete, cancel, resume or pin.
- **Editor**: everything.

The rules, in order (`decide_role`):

1. An identity provider is configured (an ``[auth]`` section in secrets): editors are the signed-in
   people whose e-mail is listed under ``[access] editors``; everyone else is a viewer, whatever
   `AE_MODE` says.
2. Else an editor password is configured (``[access] editor_password``): a browser session that
   entered it is an editor; everyone else is a viewer.
3. Else the mode decides for everyone: ``AE_MODE=viewer`` makes a read-only demo, and the default
   (``editor``) is the app as it runs on a laptop, where whoever reaches 127.0.0.1 owns the runs.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from ae_core.errors import InputError

VIEWER, EDITOR = "viewer", "editor"
MODES = (VIEWER, EDITOR)


class NotAllowed(InputError):
    """An action that changes the run store, asked for by a viewer (refused whatever the page showed)."""


class TooManyAttempts(InputError):
    """A rate limit was hit; `retry_after` says in how many seconds the next try is accepted."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


def parse_mode(value: str | None) -> str:
    """`AE_MODE` as a role: unset or empty means editor.

    >>> parse_mode(" Viewer ")
    'viewer'
    """
    mode = (value or EDITOR).strip().lower()
    if mode not in MODES:
        raise InputError(f"AE_MODE must be 'viewer' or 'editor', not {value!r}.")
    return mode


@dataclass(frozen=True)
class AccessSettings:
    """What secrets.toml says about access.

    Attributes
    ----------
    identity_provider : True when an ``[auth]`` section is present (st.login can sign people in)
    editors : the editors' e-mail addresses, lower case (``[access] editors``)
    editor_password : the shared editor password (``[access] editor_password``), "" when not set
    """

    identity_provider: bool = False
    editors: frozenset[str] = frozenset()
    editor_password: str = field(default="", repr=False)  # never in a log line or a traceback's locals

    @classmethod
    def from_secrets(cls, secrets: Mapping) -> AccessSettings:
        """Read the ``[auth]`` and ``[access]`` sections of a secrets mapping (st.secrets or a dict)."""
        access = secrets.get("access") or {}
        if not isinstance(access, Mapping):
            raise InputError("[access] in .streamlit/secrets.toml must be a table (see the README, 'Sharing the app').")
        editors = access.get("editors") or []
        if isinstance(editors, str) or not all(isinstance(e, str) for e in editors):
            raise InputError('[access] editors must be a list of e-mail addresses: editors = ["ana@example.com"].')
        password = access.get("editor_password") or ""
        if not isinstance(password, str):
            raise InputError("[access] editor_password must be a string in quotes.")
        return cls(identity_provider=isinstance(secrets.get("auth"), Mapping),
                   editors=frozenset(e.strip().lower() for e in editors if e.strip()),
                   editor_password=password)

    @property
    def password_unlocks(self) -> bool:
        """Whether the password form is offered: a password is set and no identity provider decides instead."""
        return bool(self.editor_password) and not self.identity_provider


def decide_role(mode: str, email: str | None, settings: AccessSettings, unlocked: bool = False) -> str:
    """The role of one browser session (see the module's rules).

    Parameters
    ----------
    mode : "viewer" or "editor" (`parse_mode` of AE_MODE)
    email : the signed-in user's e-mail (`st.user.email`), None when nobody is signed in
    settings : `AccessSettings.from_secrets(st.secrets)`
    unlocked : this session entered the editor password (`check_password` said yes)

    Examples
    --------
    >>> decide_role("editor", None, AccessSettings())
    'editor'
    >>> decide_role("editor", "Ana@Example.com", AccessSettings(identity_provider=True, editors=frozenset({"ana@example.com"})))
    'editor'
    """
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; use 'viewer' or 'editor'.")
    if settings.identity_provider:
        return EDITOR if email and email.strip().lower() in settings.editors else VIEWER
    if settings.editor_password:
        return EDITOR if unlocked else VIEWER
    return mode


def check_password(given: str, expected: str) -> bool:
    """Whether `given` is the editor password, in time that does not depend on where they differ.
    An empty password never matches (an unset password unlocks nothing)."""
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class SlidingWindow:
    """At most `limit` events per `window` seconds for each key (thread-safe; one per server).

    `check(key)` raises TooManyAttempts while the key is over its limit; `hit(key)` records an event.
    `clock` is injectable so tests need not sleep.
    """

    def __init__(self, limit: int, window: float, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._events.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._events[key]  # an idle key costs nothing (no growth with the number of sessions)
            return deque()
        return q

    def wait(self, key: str, n: int = 1) -> float:
        """Seconds until `key` may act `n` more times (0 when it may now; inf when n > limit)."""
        with self._lock:
            return self._wait(key, n, self.clock())

    def _wait(self, key: str, n: int, now: float) -> float:
        if n > self.limit:
            return math.inf
        q = self._recent(key, now)
        over = len(q) + n - self.limit  # how many recorded events must expire first
        return 0.0 if over <= 0 else q[over - 1] + self.window - now

    def take(self, key: str, n: int = 1) -> float:
        """Record `n` events if they fit (returns 0), else record nothing and return the wait; one step,
        so two threads cannot both take the last slot."""
        with self._lock:
            now = self.clock()
            wait = self._wait(key, n, now)
            if wait == 0:
                self._events.setdefault(key, deque()).extend([now] * n)
            return wait

    def hit(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            self._recent(key, now)
            self._events.setdefault(key, deque()).append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


GLOBAL = "*"  # the key of every session's failed tries together


class PasswordGate:
    """The editor password, with failed tries limited per browser session and for the whole server.

    A session may fail `per_session` times per `window` seconds; all sessions together may fail
    `overall` times per window (someone opening new sessions to guess faster is stopped there).
    A right password clears the session's count. The password itself is never logged or shown.
    """

    def __init__(self, per_session: int = 5, overall: int = 30, window: float = 60.0, clock=time.monotonic):
        self.session = SlidingWindow(per_session, window, clock)
        self.overall = SlidingWindow(overall, window, clock)

    def try_password(self, session_id: str, given: str, expected: str) -> bool:
        """True when `given` is right; False when it is wrong; TooManyAttempts (with the wait in its
        message) while this session or the server has failed too often, before comparing anything."""
        wait = max(self.session.wait(session_id), self.overall.wait(GLOBAL))
        if wait > 0:
            raise TooManyAttempts(f"Too many wrong passwords. Try again in {_seconds(wait)} s.", wait)
        if check_password(given, expected):
            self.session.clear(session_id)
            return True
        self.session.hit(session_id)
        self.overall.hit(GLOBAL)
        return False


class StartLimit:
    """Run starts per browser session in editor mode: at most `limit` per `window` seconds, so one
    tab (or a script replaying its requests) cannot fill the queue for everyone."""

    def __init__(self, limit: int = 10, window: float = 60.0, clock=time.monotonic):
        self.starts = SlidingWindow(limit, window, clock)

    def allow(self, session_id: str, n: int = 1) -> None:
        """Record `n` run starts for the session (a batch must fit whole), or raise TooManyAttempts
        and record nothing."""
        wait = self.starts.take(session_id, n)
        if wait > 0:
            limit, window = self.starts.limit, self.starts.window
            when = "" if math.isinf(wait) else f" Try again in {_seconds(wait)} s."
            raise TooManyAttempts(f"At most {limit} runs may be started per {window:.0f} s from one browser tab.{when}",
                                  wait)
