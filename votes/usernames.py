"""Usernames that cannot impersonate one another.

Two forms of a username are kept beside the account (votes.models.UsernameClaim):

- `canonical`: NFKC, then case-folded (Unicode's NFKC_Casefold), so `Ada`, `ADA` and
  fullwidth `ａｄａ` are one name. At most one account holds a canonical form; logging
  in accepts any spelling of it.
- `skeleton`: the Unicode TR39 confusable skeleton of the canonical form, so Cyrillic
  `аda` and Greek `Αda` (which look like `Ada` but are other letters) match it too. A new
  username whose skeleton an existing account holds is refused.

The skeleton comes from ICU's spoof checker (PyICU), the reference implementation of
TR39 on the Unicode consortium's confusables data.
"""

import unicodedata

import icu
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.http import HttpRequest
from rest_framework import serializers

from votes.models import UsernameClaim

MAX_LENGTH = 150  # django.contrib.auth's username column
_VALIDATE = UnicodeUsernameValidator()
_SPOOF_CHECKER = icu.SpoofChecker()


def normalize(username: str) -> str:
    """The form stored as the username: NFKC, as Django's create_user would store it."""
    return unicodedata.normalize("NFKC", username)


def canonical(username: str) -> str:
    """NFKC_Casefold: the form two usernames must not share."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def skeleton(username: str) -> str:
    """The TR39 skeleton of the canonical form: the form two usernames must not look alike in."""
    return _SPOOF_CHECKER.getSkeleton(0, canonical(username))


def validate(username: str) -> str:
    """The username as it will be stored, or a ValidationError worded for the `username` field.

    The length and characters are checked after normalisation, which can lengthen a
    name (`ﬃ` is one character, `ffi` three) or produce characters the raw form did not
    have (`¼` becomes `1⁄4`).
    """
    stored = normalize(username)
    if len(stored) > MAX_LENGTH:
        raise serializers.ValidationError(
            f"Ensure this field has no more than {MAX_LENGTH} characters (counted after Unicode normalisation).",
            code="max_length",
        )
    try:
        _VALIDATE(stored)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages[0], code=error.code) from None
    return stored


def conflict(username: str, *, exclude_user_id: int | None = None) -> str | None:
    """Why `username` may not be registered: "unique" (another account has the same name in
    another spelling), "confusable" (one that looks the same), or None. One indexed query."""
    form, look = canonical(username), skeleton(username)
    claims = UsernameClaim.objects.exclude(user_id=exclude_user_id) if exclude_user_id else UsernameClaim.objects
    taken = claims.filter(Q(canonical=form) | Q(skeleton=look)).values_list("canonical", flat=True)
    held = list(taken[:2])
    if not held:
        return None
    return "unique" if form in held else "confusable"


def axes_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The admin login's username as django-axes counts it: every spelling of one name is one
    account (AccessAttempt.username holds 255 characters; case folding can lengthen a name)."""
    username = credentials.get("username") if credentials else request.POST.get("username")
    return canonical(username)[:255] if isinstance(username, str) else None
