"""Numbers in query parameters.

`str.isdigit` and `int` both accept far more than 0-9: `"²".isdigit()` is true
(and `int("²")` raises), `int("١٢")` is 12, `int(" 7 ")` is 7 and `int("1_0")` is 10.
A query parameter is a number only when it is ASCII digits and nothing else, so
every numeric parameter is read here.
"""

import re

_WHOLE_NUMBER = re.compile(r"[0-9]+")


def whole_number(raw: str) -> int | None:
    """The value of `raw` if it is ASCII digits only (`"42"`), else None (`"²"`, `"-1"`, `"1e3"`, `""`)."""
    # fullmatch, not match with `$`: `$` also matches before a trailing newline.
    return int(raw) if _WHOLE_NUMBER.fullmatch(raw) else None
