"""Writes to voter accounts: the username's claimed forms, passwords, and tokens.

Kept apart from votes.services (votes and their counters) because nothing here
touches a vote: an account is who may vote, not what was voted.
"""

import hashlib

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from knox.models import AuthToken

from compare_api.throttling import once_per_window
from votes import usernames
from votes.models import UsernameClaim
from votes.tasks import email_send

User = get_user_model()


@transaction.atomic
def username_claim(*, user: AbstractBaseUser) -> UsernameClaim:
    """Record the canonical form and skeleton of `user`'s username (after a registration or a rename).

    Raises IntegrityError when another account holds either form: the caller words the refusal.
    """
    claim, _ = UsernameClaim.objects.update_or_create(
        user=user,
        defaults={"canonical": usernames.canonical(user.username), "skeleton": usernames.skeleton(user.username)},
    )
    return claim


def tokens_revoke(*, user: AbstractBaseUser) -> int:
    """Sign `user` out everywhere: every bearer token of the account stops working. Returns how many."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def password_change(*, user: AbstractBaseUser, password: str) -> None:
    """Set a new password and revoke every token: whoever held one must sign in with the new password.

    Also ends every reset link sent before (Django's reset tokens hash the password).
    """
    user.set_password(password)
    user.save(update_fields=["password"])
    tokens_revoke(user=user)


def password_reset_token(*, user: AbstractBaseUser) -> str:
    """`<user id, base64>.<Django reset token>`: valid once (it hashes the password and the last
    login, so using it ends it) and for settings.PASSWORD_RESET_TIMEOUT seconds."""
    return f"{urlsafe_base64_encode(force_bytes(user.pk))}.{default_token_generator.make_token(user)}"


def _user_from_reset_token(token: str, *, lock: bool = False) -> AbstractBaseUser | None:
    uid, _, secret = token.partition(".")
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    users = User._default_manager.filter(pk=pk, is_active=True)
    user = (users.select_for_update() if lock else users).first()
    if user is None or not default_token_generator.check_token(user, secret):
        return None
    return user


def password_reset_request(*, email: str) -> None:
    """Email a reset link to the active account(s) at `email` (compared case-insensitively).

    Says nothing about whether the address is known: the caller answers the same either way.
    At most one email per recipient address per window of the `password_reset_email` rate,
    whoever asks and from wherever, so the form cannot be used to flood an inbox.
    """
    users = User._default_manager.filter(email__iexact=email.strip(), is_active=True)
    for user in users:
        recipient = hashlib.sha256(user.email.lower().encode()).hexdigest()[:32]
        if not user.has_usable_password() or not once_per_window(
            scope="password_reset_email", client=f"to:{recipient}"
        ):
            continue
        # Through the task queue: the answer does not wait for, or depend on, the mail server.
        email_send.enqueue(
            kind="password_reset",
            to=user.email,
            params={"username": user.get_username(), "token": password_reset_token(user=user)},
        )


def password_reset_check(*, token: str) -> bool:
    """Whether `token` would set a password now (what the emailed link's GET answers)."""
    return _user_from_reset_token(token) is not None


@transaction.atomic
def password_reset_confirm(*, token: str, password: str) -> bool:
    """Set the password of the account `token` was sent to, revoking its tokens; False if the
    token is invalid, used or expired.

    The account row is locked first, so of two requests with one token only one sets a
    password (the second finds the token spent). Raises Django's ValidationError when the
    password fails the password validators (which need the account), changing nothing.
    """
    user = _user_from_reset_token(token, lock=True)
    if user is None:
        return False
    password_validation.validate_password(password, user=user)
    password_change(user=user, password=password)
    return True
