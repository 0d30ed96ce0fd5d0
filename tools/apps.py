from django.apps import AppConfig


class ToolsConfig(AppConfig):
    name = "tools"
    verbose_name = "Tools"

    def ready(self) -> None:
        from compare_api.caching import invalidate_catalog_on_change
        from tools.models import Category, Tool, Vendor

        invalidate_catalog_on_change(Category, Vendor, Tool)
