"""Signed, short-lived preview links: what a draft will look like once published, for staff.

The token names the row (`[kind, id]`) and when it was signed (django.core.signing's
TimestampSigner, through signing.dumps); it is good for PREVIEW_SECONDS. Whoever holds
the link can read the draft: it is shown only on the admin's change page, and expires.
It imports no domain app: `kind` is a name the preview view resolves.
"""

from django.conf import settings
from django.core import signing

_SALT = "compare_api.previews"


def preview_token(*, kind: str, pk: int) -> str:
    return signing.dumps([kind, pk], salt=_SALT)


def preview_target(token: str) -> tuple[str, int] | None:
    """The (kind, id) a token names, or None when it is forged, altered or expired."""
    try:
        kind, pk = signing.loads(token, salt=_SALT, max_age=settings.PREVIEW_SECONDS)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(kind, str) or not isinstance(pk, int) or isinstance(pk, bool):
        return None
    return kind, pk
