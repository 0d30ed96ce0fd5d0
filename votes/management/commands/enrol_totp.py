from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = (
        "Give a staff member a TOTP device for the admin's two-factor login (ADMIN_REQUIRE_2FA) and print "
        "its otpauth:// URI: open it, or its QR code, in an authenticator app. Shown once; keep it secret."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="authenticator", help="A name for the device (default: authenticator).")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model()._default_manager.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account is named {username!r}.")
        if not user.is_staff:
            raise CommandError(f"{username!r} is not staff: only staff log in to the admin.")
        device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
        self.stdout.write(device.config_url)
