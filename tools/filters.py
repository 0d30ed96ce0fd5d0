import django_filters

from tools.models import PricingTier, Tool


class ToolFilter(django_filters.FilterSet):
    category = django_filters.CharFilter(field_name="category__slug", help_text="Category slug.")
    vendor = django_filters.CharFilter(field_name="vendor__slug", help_text="Vendor slug.")
    pricing_tier = django_filters.ChoiceFilter(choices=PricingTier.choices)
    open_weights = django_filters.BooleanFilter()

    class Meta:
        model = Tool
        fields = ["category", "vendor", "pricing_tier", "open_weights"]
