import django_filters
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from tools.models import PricingTier, Tool


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false` only: django-filter's BooleanFilter reads anything else as "no filter"."""

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=[("true", "true"), ("false", "false")], coerce=lambda value: value == "true", **kwargs)


class StrictChoicesForm(forms.Form):
    """An empty `?pricing_tier=` is not one of the choices: refuse it rather than ignore the filter."""

    def clean(self) -> dict:
        cleaned = super().clean()
        for name, field in self.fields.items():
            if isinstance(field, forms.ChoiceField) and self.data.get(name) == "":
                self.add_error(
                    name, ValidationError(field.error_messages["invalid_choice"] % {"value": ""}, code="invalid_choice")
                )
        return cleaned


class ToolFilter(django_filters.FilterSet):
    category = django_filters.CharFilter(field_name="category__slug", help_text="Category slug.")
    vendor = django_filters.CharFilter(field_name="vendor__slug", help_text="Vendor slug.")
    pricing_tier = django_filters.ChoiceFilter(choices=PricingTier.choices)
    open_weights = StrictBooleanFilter()

    class Meta:
        model = Tool
        form = StrictChoicesForm
        fields = ["category", "vendor", "pricing_tier", "open_weights"]
