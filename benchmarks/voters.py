"""Voter accounts with bearer tokens, made in bulk for the load and fault scripts."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from knox.crypto import create_token_string, hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS

from votes.auth import remember_owner
from votes.emails import normalise_address
from votes.models import Voter


def voters_with_tokens(*, prefix: str, count: int) -> list[tuple[AbstractBaseUser, str]]:
    """`count` new accounts named `<prefix>-<n>` (no usable password), each with a token that never
    expires and a verified address, so their votes count as a real voter's do."""
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"{prefix}-{i}", email=f"{prefix}-{i}@bench.invalid", password="!") for i in range(count)],
        batch_size=5000,
    )
    now = timezone.now()
    Voter.objects.bulk_create(
        [
            Voter(user=user, email_normalised=normalise_address(user.email), email_verified_at=now, votes_count=True)
            for user in users
        ],
        batch_size=5000,
    )
    tokens = [create_token_string() for _ in users]
    AuthToken.objects.bulk_create(
        [
            AuthToken(digest=hash_token(token), token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH], user=user, expiry=None)
            for token, user in zip(tokens, users, strict=True)
        ],
        batch_size=5000,
    )
    return list(zip(users, tokens, strict=True))


def log_in(*, prefix: str) -> int:
    """What logging in leaves in Redis for each token of the `<prefix>-<n>` accounts (TokenView:
    votes.auth.remember_owner, the token's owner for OWNER_SECONDS); returns how many. Run with
    the servers' settings, so the entries are where, and as, their fast path looks for them.
    Counts only the entries kept: none without Redis or on SQLite."""
    tokens = AuthToken.objects.filter(user__username__startswith=f"{prefix}-").only("token_key", "digest", "user_id")
    return sum(remember_owner(auth_token) for auth_token in tokens.iterator(chunk_size=5000))
