from rest_framework import serializers

from compare_api.fields import BlankAsNullCharField, TallySerializer
from tools.models import Category, PricingTier, Tool, Vendor


class CategoryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name"]


class VendorRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vendor
        fields = ["slug", "name"]


class CategorySerializer(serializers.ModelSerializer):
    tool_count = serializers.IntegerField(read_only=True, help_text="Published tools in this category.")

    class Meta:
        model = Category
        fields = ["slug", "name", "description", "tool_count"]


class VendorSerializer(serializers.ModelSerializer):
    homepage_url = BlankAsNullCharField()
    tool_count = serializers.IntegerField(read_only=True, help_text="Published tools by this vendor.")

    class Meta:
        model = Vendor
        fields = ["slug", "name", "homepage_url", "tool_count"]


class PricingSerializer(serializers.Serializer):
    tier = serializers.ChoiceField(source="pricing_tier", choices=PricingTier.choices)
    label = serializers.CharField(source="display_pricing_label", help_text="Display text, e.g. 'Free', 'Paid'.")
    price_from_usd = serializers.DecimalField(
        max_digits=10, decimal_places=2, coerce_to_string=False, allow_null=True, help_text="Lowest price, where known."
    )
    price_unit = BlankAsNullCharField(help_text="What the price buys, where known.")


class ToolSerializer(serializers.ModelSerializer):
    """A tool as every endpoint shows it (list, detail, and each side of a comparison)."""

    vendor = VendorRefSerializer()
    category = CategoryRefSerializer()
    pricing = PricingSerializer(source="*")
    licence = BlankAsNullCharField()
    homepage_url = BlankAsNullCharField()
    panel = TallySerializer(help_text="The panel's verdicts: one review per active reviewer.")
    community = TallySerializer(help_text="Community votes: one per voter.")

    class Meta:
        model = Tool
        fields = [
            "slug",
            "name",
            "vendor",
            "category",
            "tagline",
            "description",
            "pricing",
            "licence",
            "open_weights",
            "context_window_tokens",
            "homepage_url",
            "panel",
            "community",
        ]
        read_only_fields = fields
