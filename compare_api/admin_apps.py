from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """django.contrib.admin with compare_api.admin_site.StaffAdminSite as `admin.site`
    (a module of its own: the site's module imports models, which app loading cannot)."""

    default_site = "compare_api.admin_site.StaffAdminSite"
