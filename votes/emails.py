"""The emails voter accounts receive. Every link is built from settings.PUBLIC_BASE_URL,
never from the request's Host header (which a client chooses)."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.urls import reverse


def password_reset_email_send(*, user: AbstractBaseUser, token: str) -> None:
    """The password reset email: a link to set a new password, valid once, for PASSWORD_RESET_TIMEOUT."""
    link = (
        f"{settings.PUBLIC_BASE_URL.rstrip('/')}{reverse('auth-password-reset-confirm')}?{urlencode({'token': token})}"
    )
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    send_mail(
        subject="Reset your AI Tool Verdicts password",
        message=(
            f"Someone (we hope you) asked to reset the password of the account {user.get_username()}.\n\n"
            f"Set a new password (the link works once, for {minutes} minutes):\n{link}\n\n"
            "Didn't ask for this? Ignore this email: your password stays as it is.\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
