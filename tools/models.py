from datetime import datetime

from django.db import models
from django.db.models import F, FloatField, Value
from django.db.models.functions import Cast, NullIf, Sqrt
from simple_history.models import HistoricalRecords

from compare_api.slugs import SLUG_MAX_LENGTH, validate_tool_slug
from compare_api.stats import Z95, Tally


class Category(models.Model):
    slug = models.SlugField(max_length=SLUG_MAX_LENGTH, unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Vendor(models.Model):
    slug = models.SlugField(max_length=SLUG_MAX_LENGTH, unique=True)
    name = models.CharField(max_length=100, unique=True)
    homepage_url = models.URLField("homepage URL", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Verdict(models.TextChoices):
    """What a judge says of a tool: the panel's reviews and the community's votes share it."""

    SHIP = "ship", "Ship"
    SKIP = "skip", "Skip"


class PricingTier(models.TextChoices):
    FREE = "free", "Free"
    FREEMIUM = "freemium", "Freemium"
    PAID = "paid", "Paid"
    CONTACT = "contact", "Contact sales"


def _rate(ship: str, skip: str) -> Cast:
    return Cast(F(ship), FloatField()) / NullIf(F(ship) + F(skip), 0)


def _wilson_low(ship: str, skip: str) -> Cast:
    """The lower bound of compare_api.stats.wilson_interval, in SQL, for ranking."""
    n = Cast(NullIf(F(ship) + F(skip), 0), FloatField())
    p = Cast(F(ship), FloatField()) / n
    z2 = Value(Z95 * Z95)
    margin = Value(Z95) * Sqrt(p * (Value(1.0) - p) / n + z2 / (Value(4.0) * n * n))
    return (p + z2 / (Value(2.0) * n) - margin) / (Value(1.0) + z2 / n)


COMMUNITY_COUNTERS = ("community_ship_count", "community_skip_count")
PANEL_COUNTERS = ("panel_ship_count", "panel_skip_count")


class ToolQuerySet(models.QuerySet):
    def published(self) -> "ToolQuerySet":
        return self.filter(is_published=True)

    def due(self, *, now: datetime) -> "ToolQuerySet":
        """Drafts whose scheduled time has come."""
        return self.filter(is_published=False, publish_at__lte=now)

    def with_rates(self) -> "ToolQuerySet":
        """Annotate both ship rates and their Wilson lower bounds, for ordering."""
        return self.annotate(
            panel_ship_rate=_rate("panel_ship_count", "panel_skip_count"),
            community_ship_rate=_rate("community_ship_count", "community_skip_count"),
            panel_ci95_low=_wilson_low("panel_ship_count", "panel_skip_count"),
            community_ci95_low=_wilson_low("community_ship_count", "community_skip_count"),
        )

    def for_document(self) -> "ToolQuerySet":
        """The tool document's read shape, published or not (a draft's preview uses it too)."""
        return self.select_related("category", "vendor").with_rates()

    def for_api(self) -> "ToolQuerySet":
        """The read shape of the tool list and detail: one query per page."""
        return self.published().for_document()


class Tool(models.Model):
    slug = models.SlugField(
        max_length=SLUG_MAX_LENGTH,
        unique=True,
        validators=[validate_tool_slug],
        help_text="Lower-case words joined by hyphens; '-vs-' is reserved for comparisons.",
    )
    name = models.CharField(max_length=120)
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="tools")
    # No index of its own: (category, name, id) below serves every lookup by category, and the planner,
    # offered a bare category index, would read a board through it and sort by name (see Meta).
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="tools", db_index=False)
    tagline = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)

    pricing_tier = models.CharField(max_length=16, choices=PricingTier.choices)
    pricing_label = models.CharField(
        max_length=60, blank=True, help_text="Display label; empty shows the tier's name (e.g. 'Free')."
    )
    price_from_usd = models.DecimalField(
        "lowest price (USD)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Lowest paid price, where known.",
    )
    price_unit = models.CharField(
        max_length=60, blank=True, help_text="What the price buys, e.g. 'per seat per month', 'per 1M tokens'."
    )
    # Provenance: where the pricing facts and the licence were read, and the day someone last checked.
    pricing_source_url = models.URLField(
        "pricing source URL", blank=True, help_text="Where the pricing facts were read."
    )
    pricing_verified_at = models.DateField(
        "pricing verified on",
        null=True,
        blank=True,
        help_text="The day the pricing facts were last checked against the source.",
    )

    licence = models.CharField(max_length=120, blank=True)
    licence_source_url = models.URLField("licence source URL", blank=True, help_text="Where the licence was read.")
    licence_verified_at = models.DateField(
        "licence verified on",
        null=True,
        blank=True,
        help_text="The day the licence was last checked against the source.",
    )
    open_weights = models.BooleanField(default=False)
    context_window_tokens = models.PositiveIntegerField("context window (tokens)", null=True, blank=True)
    homepage_url = models.URLField("homepage URL", blank=True)
    # A new tool is a draft: nothing reaches readers until staff publish it (by hand or at publish_at).
    is_published = models.BooleanField("published", default=False, db_index=True)
    publish_at = models.DateTimeField(
        null=True, blank=True, help_text="Publish automatically at this time (within a minute); empty: by hand."
    )

    # The panel's verdicts (reviews by active reviewers), recounted in the same
    # transaction as any review or reviewer write (reviews/apps.py), so reads never count.
    panel_ship_count = models.PositiveIntegerField("panel: ship", default=0, editable=False)
    panel_skip_count = models.PositiveIntegerField("panel: skip", default=0, editable=False)
    # Kept in step with the vote rows by votes.services, in the vote's own
    # transaction, so reads never count votes.
    community_ship_count = models.PositiveIntegerField("community: ship", default=0, editable=False)
    community_skip_count = models.PositiveIntegerField("community: skip", default=0, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ToolQuerySet.as_manager()
    # Every save (the admin, the seed) records a revision; the counters are left out, and they
    # move only through queryset updates (votes.services, reviews.services), which record none.
    history = HistoricalRecords(excluded_fields=[*PANEL_COUNTERS, *COMMUNITY_COUNTERS, "updated_at"])

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["name", "id"]),
            # A category's tools in board order (discovery.selectors), read from the index, not sorted:
            # each vote rewrites its tool's row, so the rows soon lie in no order on disk.
            models.Index(fields=["category", "name", "id"]),
            models.Index(fields=["vendor", "name"]),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # The counters belong to their writers (votes.services moves the community
        # ones with F() under a row lock; review writes recount the panel ones).
        # Saving a tool loaded earlier (the admin, the seed) must not write its
        # stale copy back over a vote or review in between.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in (*COMMUNITY_COUNTERS, *PANEL_COUNTERS)
            ]
        super().save(*args, **kwargs)

    @property
    def display_pricing_label(self) -> str:
        return self.pricing_label or PricingTier(self.pricing_tier).label

    @property
    def panel(self) -> Tally:
        return Tally(self.panel_ship_count, self.panel_skip_count)

    @property
    def community(self) -> Tally:
        return Tally(self.community_ship_count, self.community_skip_count)
