"""The admin's front door: two-factor login for staff (django-otp) and login limits (django-axes).

The admin site is Django's, with django-otp's login (password and TOTP code) while
settings.ADMIN_REQUIRE_2FA is on: staff then count as staff only once verified by one of
their TOTP devices. The setting is read on every request, so one process can switch.
"""

import ipaddress
import math

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.sites import AdminSite
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from compare_api.errors import error_body
from compare_api.throttling import client_ident


class StaffAdminSite(OTPAdminSite):
    site_header = "AI Tool Verdicts: staff"
    site_title = "AI Tool Verdicts staff"
    index_title = "The catalog, the panel, the community and partners"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    @property
    def site_url(self) -> str:  # type: ignore[override]
        # "View site": the frontend where SITE_URL names one, else the API's own docs (this
        # deployment serves no page at /).
        return settings.ADMIN_VIEW_SITE_URL

    @property
    def login_form(self) -> type[AdminAuthenticationForm]:
        return OTPAdminAuthenticationForm if settings.ADMIN_REQUIRE_2FA else AdminAuthenticationForm

    @property
    def login_template(self) -> str | None:
        return OTPAdminSite.login_template if settings.ADMIN_REQUIRE_2FA else None

    def has_permission(self, request: HttpRequest) -> bool:
        if settings.ADMIN_REQUIRE_2FA:
            return super().has_permission(request)  # active staff, verified by a device
        return AdminSite.has_permission(self, request)


class AdminOnlyAxesHandler(AxesDatabaseHandler):
    """django-axes for the admin login only.

    AXES_ONLY_ADMIN_SITE stops axes refusing other logins but not recording them: every
    failed API login would write a row and count against the admin lock-out of the same
    name. The API login has its own per-account limit (THROTTLE_LOGIN_ACCOUNT), so here
    only the admin's attempts are recorded, and nothing is counted twice.
    """

    def user_login_failed(self, sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender, request: HttpRequest, user, **kwargs) -> None:
        if self.is_admin_request(request):
            super().user_logged_in(sender, request, user, **kwargs)

    def user_logged_out(self, sender, request: HttpRequest, user, **kwargs) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_logged_out(sender, request, user, **kwargs)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> JsonResponse:
    """A locked-out admin login: 429 in the one error shape, with Retry-After (the cool-off)."""
    wait = math.ceil(get_cool_off(request).total_seconds())
    body = error_body(
        429, "throttled", f"Too many failed logins for this account or address; try again in {wait} seconds."
    )
    response = JsonResponse(body, status=429)
    response["Retry-After"] = str(wait)
    return response


def client_ip(request: HttpRequest) -> str | None:
    """The client address django-axes counts and stores (an inet column): as the API's limits count
    it (compare_api.throttling.client_ident), an IPv6 client's /64 as the network's first address."""
    ident = client_ident(request) or ""  # None: a request without an address (Client.force_login's)
    try:
        return str(ipaddress.ip_address(ident.removesuffix("/64")))
    except ValueError:  # not an address (a misconfigured proxy's header): counted by account only
        return None
