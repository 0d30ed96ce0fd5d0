from collections.abc import Mapping
from decimal import Decimal

from rest_framework import serializers

from compare_api.fields import BlankAsNullCharField, TallySerializer
from compare_api.stats import Tally
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
    description = BlankAsNullCharField()
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
    source_url = BlankAsNullCharField(
        source="pricing_source_url", help_text="Where the pricing facts were read; null when not recorded."
    )
    verified_at = serializers.DateField(
        source="pricing_verified_at",
        allow_null=True,
        help_text="The day the pricing facts were last checked against the source; null when never.",
    )


class LicenceSourceSerializer(serializers.Serializer):
    url = BlankAsNullCharField(
        source="licence_source_url", help_text="Where the licence was read; null when not recorded."
    )
    verified_at = serializers.DateField(
        source="licence_verified_at",
        allow_null=True,
        help_text="The day the licence was last checked against the source; null when never.",
    )


class ToolSerializer(serializers.ModelSerializer):
    """A tool as every endpoint shows it (list, detail, and each side of a comparison)."""

    vendor = VendorRefSerializer()
    category = CategoryRefSerializer()
    tagline = BlankAsNullCharField()
    description = BlankAsNullCharField()
    pricing = PricingSerializer(source="*")
    licence = BlankAsNullCharField()
    # Beside `licence`, not in its place: the licence stays a plain string for existing clients.
    licence_source = LicenceSourceSerializer(source="*", help_text="Provenance of `licence`.")
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
            "licence_source",
            "open_weights",
            "context_window_tokens",
            "homepage_url",
            "panel",
            "community",
        ]
        read_only_fields = fields


# The tool document is built from these columns by tool_document(), on every
# endpoint that shows a tool; ToolSerializer above declares the same shape for
# the OpenAPI schema (a test checks the two agree).
TOOL_COLUMNS = (
    "slug",
    "name",
    "vendor__slug",
    "vendor__name",
    "category__slug",
    "category__name",
    "tagline",
    "description",
    "pricing_tier",
    "pricing_label",
    "price_from_usd",
    "price_unit",
    "pricing_source_url",
    "pricing_verified_at",
    "licence",
    "licence_source_url",
    "licence_verified_at",
    "open_weights",
    "context_window_tokens",
    "homepage_url",
    "panel_ship_count",
    "panel_skip_count",
    "community_ship_count",
    "community_skip_count",
)
PRICING_LABELS = {tier.value: str(tier.label) for tier in PricingTier}


def _day(value: object) -> str | None:
    # A date, or SQLite's text of one through the compiled queries: ISO either way.
    return None if value is None else str(value)


def tool_document(row: Mapping) -> dict:
    """A tool as clients see it, from a row of TOOL_COLUMNS (any database's raw values)."""
    price: Decimal | float | None = row["price_from_usd"]
    return {
        "slug": row["slug"],
        "name": row["name"],
        "vendor": {"slug": row["vendor__slug"], "name": row["vendor__name"]},
        "category": {"slug": row["category__slug"], "name": row["category__name"]},
        "tagline": row["tagline"] or None,
        "description": row["description"] or None,
        "pricing": {
            "tier": row["pricing_tier"],
            "label": row["pricing_label"] or PRICING_LABELS[row["pricing_tier"]],
            "price_from_usd": None if price is None else float(price),
            "price_unit": row["price_unit"] or None,
            "source_url": row["pricing_source_url"] or None,
            "verified_at": _day(row["pricing_verified_at"]),
        },
        "licence": row["licence"] or None,
        "licence_source": {"url": row["licence_source_url"] or None, "verified_at": _day(row["licence_verified_at"])},
        "open_weights": bool(row["open_weights"]),
        "context_window_tokens": row["context_window_tokens"],
        "homepage_url": row["homepage_url"] or None,
        "panel": Tally(row["panel_ship_count"], row["panel_skip_count"]).as_dict(),
        "community": Tally(row["community_ship_count"], row["community_skip_count"]).as_dict(),
    }
