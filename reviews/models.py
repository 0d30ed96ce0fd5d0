from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Greatest, Least
from simple_history.models import HistoricalRecords

from compare_api.slugs import COMPARISON_SEPARATOR, SLUG_MAX_LENGTH
from tools.models import Tool, Vendor, Verdict


class ReviewerQuerySet(models.QuerySet):
    def panel(self) -> "ReviewerQuerySet":
        """The active reviewers in panel order: the scorecard's rows."""
        return self.filter(is_active=True).order_by("position", "id")


class Reviewer(models.Model):
    slug = models.SlugField(max_length=SLUG_MAX_LENGTH, unique=True)
    name = models.CharField(max_length=100)
    lens = models.CharField(max_length=100, help_text="What this reviewer judges a tool by.")
    bio = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(
        "panel position", unique=True, help_text="Order on the panel (scorecard row)."
    )
    is_active = models.BooleanField(
        "on the panel", default=True, help_text="Reviewers off the panel leave it and its counts."
    )

    objects = ReviewerQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.lens})"


class Relationship(models.TextChoices):
    """What ties a reviewer to a vendor, as disclosed to readers."""

    EMPLOYEE = "employee", "Works for the vendor"
    FORMER_EMPLOYEE = "former_employee", "Used to work for the vendor"
    CONSULTANT = "consultant", "Paid adviser or contractor"
    INVESTOR = "investor", "Holds shares or invested"
    SPONSOR = "sponsor", "Paid or sponsored by the vendor"
    PARTNER = "partner", "Business partner"
    PERSONAL = "personal", "Family or close personal tie"
    OTHER = "other", "Other (see note)"


class ReviewerDisclosure(models.Model):
    """A conflict of interest a reviewer discloses: shown with the reviewer wherever the panel is."""

    reviewer = models.ForeignKey(Reviewer, on_delete=models.CASCADE, related_name="disclosures")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="+")
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    since = models.DateField(help_text="When the relationship began.")
    note = models.TextField(blank=True, help_text="For editors: context behind the disclosure (not published).")

    class Meta:
        ordering = ["reviewer", "vendor__name", "since", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reviewer", "vendor", "relationship"],
                name="one_disclosure_per_reviewer_vendor_relationship",
                violation_error_message="This reviewer already discloses this relationship with this vendor.",
            ),
            models.CheckConstraint(
                condition=models.Q(relationship__in=Relationship.values), name="disclosure_relationship_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer.name}: {self.get_relationship_display()} ({self.vendor.name})"


class ReviewQuerySet(models.QuerySet):
    def published(self) -> "ReviewQuerySet":
        return self.filter(is_published=True)

    def due(self, *, now: datetime) -> "ReviewQuerySet":
        return self.filter(is_published=False, publish_at__lte=now)


class Review(models.Model):
    reviewer = models.ForeignKey(Reviewer, on_delete=models.CASCADE, related_name="reviews")
    tool = models.ForeignKey(Tool, on_delete=models.CASCADE, related_name="reviews")
    verdict = models.CharField(max_length=4, choices=Verdict.choices)
    body = models.TextField()
    reviewed_at = models.DateField("reviewed on", null=True, blank=True, help_text="Empty when the date is not known.")
    # The latest correction of a published verdict or text (the admin asks for a note with the
    # change), and when it was made; shown to readers as `correction` and `updated_at`.
    correction = models.TextField("latest correction", blank=True)
    corrected_at = models.DateTimeField("corrected at", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # A draft counts nowhere (panel counters, scorecard, review lists) until it is published.
    is_published = models.BooleanField("published", default=False, db_index=True)
    publish_at = models.DateTimeField(
        null=True, blank=True, help_text="Publish automatically at this time (within a minute); empty: by hand."
    )

    objects = ReviewQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["reviewer__position", "tool__name"]
        constraints = [
            models.UniqueConstraint(fields=["reviewer", "tool"], name="one_review_per_reviewer_per_tool"),
            models.CheckConstraint(condition=models.Q(verdict__in=Verdict.values), name="review_verdict_valid"),
        ]
        indexes = [models.Index(fields=["tool", "verdict"])]

    def __str__(self) -> str:
        return f"{self.reviewer.name} on {self.tool.name}: {self.verdict}"

    @classmethod
    def from_db(cls, db, field_names, values) -> "Review":
        review = super().from_db(db, field_names, values)
        # Moving a review to another tool recounts both tools' panels (reviews.services).
        review._loaded_tool_id = review.__dict__.get("tool_id")
        return review


class ComparisonQuerySet(models.QuerySet):
    def published(self) -> "ComparisonQuerySet":
        return self.filter(is_published=True, left_tool__is_published=True, right_tool__is_published=True)

    def due(self, *, now: datetime) -> "ComparisonQuerySet":
        return self.filter(is_published=False, publish_at__lte=now)

    def for_list(self) -> "ComparisonQuerySet":
        return self.published().select_related("left_tool", "right_tool")


class Comparison(models.Model):
    """A curated pair: editorial text on top of the computed comparison.

    Any two published tools can be compared; curating adds a title, headline and
    summary. One curation per pair, whichever way round it is requested.
    """

    left_tool = models.ForeignKey(Tool, on_delete=models.CASCADE, related_name="+")
    right_tool = models.ForeignKey(Tool, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    headline = models.CharField(max_length=300, blank=True)
    summary = models.TextField(blank=True)
    # A new curation is a draft; it shows once published and both its tools are.
    is_published = models.BooleanField("published", default=False)
    publish_at = models.DateTimeField(
        null=True, blank=True, help_text="Publish automatically at this time (within a minute); empty: by hand."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ComparisonQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(left_tool=models.F("right_tool")),
                name="comparison_of_two_tools",
                violation_error_message="Pick two different tools.",
            ),
            models.UniqueConstraint(
                Least("left_tool", "right_tool"),
                Greatest("left_tool", "right_tool"),
                name="one_comparison_per_pair",
                violation_error_message="These two tools are already curated (in this order or the other).",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def slug(self) -> str:
        return f"{self.left_tool.slug}{COMPARISON_SEPARATOR}{self.right_tool.slug}"

    def clean(self) -> None:
        if self.left_tool_id and self.left_tool_id == self.right_tool_id:
            raise ValidationError({"right_tool": "Pick two different tools."})
