"""The one rule for tool slugs, shared by models, URLs and the comparison parser."""

import re

from django.core.exceptions import ValidationError

COMPARISON_SEPARATOR = "-vs-"
# What a slug-shaped URL segment may hold (Django's `slug` converter). Anything
# else, a NUL byte above all (PostgreSQL refuses it in text), is a 404 from the
# URL resolver before any query runs.
SLUG_SEGMENT = "[-a-zA-Z0-9_]+"
# A comparison's `{a}-vs-{b}[-vs-...]` reaches its view whole, which parses it before any query.
ANY_SEGMENT = "[^/]+"
SLUG_MAX_LENGTH = 80
# A comparison names two to four tools.
COMPARISON_MAX_TOOLS = 4
COMPARISON_MAX_LENGTH = COMPARISON_MAX_TOOLS * SLUG_MAX_LENGTH + (COMPARISON_MAX_TOOLS - 1) * len(COMPARISON_SEPARATOR)
# Lower-case ASCII words joined by single hyphens: safe in URLs, and unambiguous
# once `-vs-` is kept out of them.
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def validate_tool_slug(value: str) -> None:
    if not SLUG_RE.fullmatch(value):
        raise ValidationError("Use lower-case letters, digits and single hyphens, e.g. 'code-llama-4'.", code="invalid")
    if COMPARISON_SEPARATOR in value or value.startswith("vs-") or value.endswith("-vs"):
        raise ValidationError(
            f"A slug may not contain '{COMPARISON_SEPARATOR}' (it separates the tools of a comparison).",
            code="reserved",
        )


def split_comparison_slug(pair: str) -> tuple[str, ...] | None:
    """`a-vs-b-vs-c` -> (a, b, c); None when the text cannot name at least two well-formed slugs.

    It may name more than COMPARISON_MAX_TOOLS (the view refuses those with a 400 of
    its own); text longer than that many slugs could be is refused before any regex work.
    """
    if len(pair) > COMPARISON_MAX_LENGTH:
        return None
    parts = tuple(pair.split(COMPARISON_SEPARATOR))
    if len(parts) < 2 or not all(SLUG_RE.fullmatch(part) for part in parts):
        return None
    return parts
