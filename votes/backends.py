from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from votes.usernames import canonical

User = get_user_model()


class UsernameBackend(ModelBackend):
    """Django's model backend, accepting a username in any spelling of its canonical form
    (votes.usernames): `ada`, `ADA` and fullwidth `ａｄａ` all log in as `Ada`.

    Safe because no two accounts share a canonical form. The exact username is tried first:
    it is the common case (one indexed query), and it keeps the rare account that predates
    the canonical forms (and shares one with an older account) able to log in.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs
    ) -> AbstractBaseUser | None:
        username = kwargs.get(User.USERNAME_FIELD, username)
        if username is None or password is None:
            return None
        user = (
            User._default_manager.filter(username=username).first()
            or User._default_manager.filter(username_claim__canonical=canonical(username)).first()
        )
        if user is None:
            # As ModelBackend: an unknown name costs a password hash too, so timing tells nothing.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
