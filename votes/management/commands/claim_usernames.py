from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import IntegrityError

from votes.accounts import username_claim
from votes.models import UsernameClaim


class Command(BaseCommand):
    help = (
        "Record the canonical form and look-alike skeleton of every account that has none (one made by "
        "`createsuperuser` or a script rather than by registration or the admin), so no one can register "
        "a look-alike of it. An account whose form another already holds is listed and left unclaimed."
    )

    def handle(self, *args, **options) -> None:
        unclaimed = get_user_model()._default_manager.filter(username_claim__isnull=True).order_by("pk")
        claimed = clashes = 0
        for user in unclaimed.iterator():
            try:
                username_claim(user=user)
                claimed += 1
            except IntegrityError:
                UsernameClaim.objects.create(user=user, canonical=None, skeleton=None)
                clashes += 1
                self.stderr.write(f"{user.get_username()!r} looks like an existing account: rename it in the admin")
        self.stdout.write(f"{claimed} claimed, {clashes} left unclaimed")
