"""The one rule for tool slugs, shared by models, URLs and the comparison parser."""

import re

from django.core.exceptions import ValidationError

COMPARISON_SEPARATOR = "-vs-"
# What a slug-shaped URL segment may hold (Django's `slug` converter). Anything
# else, a NUL byte above all (PostgreSQL refuses it in text), is a 404 from the
# URL resolver before any query runs.
SLUG_SEGMENT = "[-a-zA-Z0-9_]+"
# A comparison's `{a}-vs-{b}` reaches its view whole, which parses it before any query.
ANY_SEGMENT = "[^/]+"
SLUG_MAX_LENGTH = 80
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


def split_comparison_slug(pair: str) -> tuple[str, str] | None:
    """`a-vs-b` -> (a, b); None when the text cannot name two well-formed slugs."""
    if len(pair) > 2 * SLUG_MAX_LENGTH + len(COMPARISON_SEPARATOR):
        return None
    parts = pair.split(COMPARISON_SEPARATOR)
    if len(parts) != 2:
        return None
    left, right = parts
    if not (SLUG_RE.fullmatch(left) and SLUG_RE.fullmatch(right)):
        return None
    return left, right
