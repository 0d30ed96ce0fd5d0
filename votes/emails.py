"""Every email the site sends, built here from plain values (ids, strings), never from a request.

Services decide *whether* an email goes (votes.services._send_email holds each
address to one a day) and hand `deliver` a kind, an address and string
parameters, so the same call can run now or later in a worker. Every link is
built from settings.PUBLIC_BASE_URL: a request's Host is whatever the client
sent, and a link built from it could point a victim anywhere.
"""

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse


@dataclass(frozen=True)
class Email:
    subject: str
    body: str


def normalise_address(address: str) -> str:
    """The canonical form of an address, for "one account per address" and the mail limit.

    Case-folded, and the local part's `+tag` dropped: `Ada+votes@Example.com` and
    `ada@example.com` reach the same inbox, so they are one address here. The
    address as given is kept for sending.
    """
    local, _, domain = address.strip().casefold().rpartition("@")
    return f"{local.partition('+')[0]}@{domain}"


def link(url_name: str, token: str) -> str:
    # Signed tokens are URL-safe already (base64url and ':'); quoting guards the rest.
    return f"{settings.PUBLIC_BASE_URL}{reverse(url_name)}?token={quote(token, safe=':')}"


def verification(*, username: str, token: str) -> Email:
    return Email(
        subject="Confirm your email address for AI Tool Verdicts",
        body=(
            f"Hello {username},\n\n"
            "Your community votes count once your email address is confirmed. "
            f"Confirm it by opening this link (it works for 48 hours):\n{link('auth-verify', token)}\n\n"
            "Didn't create an account? Ignore this email: the account's votes will not count.\n"
        ),
    )


def password_reset(*, username: str, token: str) -> Email:
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    return Email(
        subject="Reset your AI Tool Verdicts password",
        body=(
            f"Someone (we hope you) asked to reset the password of the account {username}.\n\n"
            f"Set a new password (the link works once, for {minutes} minutes):\n"
            f"{link('auth-password-reset-confirm', token)}\n\n"
            "Didn't ask for this? Ignore this email: your password stays as it is.\n"
        ),
    )


KINDS: dict[str, Callable[..., Email]] = {
    "verification": verification,
    "password_reset": password_reset,
}


def deliver(*, kind: str, to: str, params: dict[str, str]) -> None:
    """Build the email `kind` from `params` and send it to `to`, now."""
    email = KINDS[kind](**params)
    send_mail(subject=email.subject, message=email.body, from_email=None, recipient_list=[to])
