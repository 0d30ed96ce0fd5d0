from django.apps import AppConfig


class ToolsConfig(AppConfig):
    name = "tools"
    verbose_name = "Tools"

    def ready(self) -> None:
        from compare_api.caching import invalidate_catalog_on_change, read_tallies_with
        from tools.models import Category, Tool, Vendor
        from tools.selectors import community_tallies

        invalidate_catalog_on_change(Category, Vendor, Tool)
        read_tallies_with(community_tallies)
