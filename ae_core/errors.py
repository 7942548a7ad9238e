"""The one exception a user's mistake raises.

`InputError` carries a message a person can act on: what was wrong and what to
do about it. The CLI prints it as one ``error:`` line and exits 2; the app shows
it with ``st.error``. Anything else that escapes is a bug.
"""


class InputError(ValueError):
    """The user's input cannot be used; the message says why and what to do.

    Subclasses ValueError so scikit-learn style callers that catch ValueError
    for bad parameters keep working.
    """
