from collections.abc import Iterable, Mapping

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from reviews.models import Comparison, Review, Reviewer, ReviewerDisclosure
from reviews.services import comparisons_publish, comparisons_unpublish, reviews_publish, reviews_unpublish
from tools.admin import ToolAdmin, preview_link, report_publishing
from tools.models import Tool

# A correction is owed to readers when what they were shown changes.
CORRECTED_FIELDS = ("verdict", "body")


def _shown_to_readers(state: Mapping) -> bool:
    """A review readers see: it and its tool published, its reviewer on the panel."""
    return bool(state["is_published"] and state["tool__is_published"] and state["reviewer__is_active"])


def _same_text(a: str, b: str) -> bool:
    # Browsers send a textarea's line breaks as CRLF and the form strips the ends: not a correction.
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


class ReviewAdminForm(forms.ModelForm):
    """Changing the verdict or text of a published review asks for a correction note, which readers see.

    Compared with the row as stored (not the form's initial values), so a revert from the
    history page, whose form starts from the old version, asks for a note too.
    """

    correction_note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when changing the verdict or text of a published review: what changed and why. "
        "Shown to readers with the review (replacing any earlier note).",
    )

    class Meta:
        model = Review
        fields = ["reviewer", "tool", "verdict", "body", "reviewed_at"]

    def clean(self) -> dict:
        cleaned = super().clean()
        self._stored = None
        if self.instance.pk:
            self._stored = (
                Review.objects.filter(pk=self.instance.pk)
                .values(
                    *CORRECTED_FIELDS,
                    "correction",
                    "corrected_at",
                    "is_published",
                    "tool__is_published",
                    "reviewer__is_active",
                )
                .first()
            )
        stored = self._stored
        changed = [
            field
            for field in CORRECTED_FIELDS
            if stored and field in cleaned and not _same_text(str(cleaned[field]), stored[field])
        ]
        self._correcting = bool(changed) and _shown_to_readers(stored)
        note = cleaned.get("correction_note", "")
        if self._correcting and not note:
            names = " and ".join("verdict" if field == "verdict" else "text" for field in changed)
            self.add_error("correction_note", f"This review is published: say what changed in its {names} and why.")
        elif note and not self._correcting:
            self.add_error(
                "correction_note", "A correction note goes with a change to the verdict or text of a published review."
            )
        return cleaned

    def save(self, commit: bool = True) -> Review:
        review = super().save(commit=False)
        stored = getattr(self, "_stored", None)
        if getattr(self, "_correcting", False):
            review.correction = self.cleaned_data["correction_note"]
            review.corrected_at = timezone.now()
            review._change_reason = f"Correction: {review.correction}"
        elif stored:
            # A revert starts from an old version: the correction readers see stays the latest one.
            review.correction, review.corrected_at = stored["correction"], stored["corrected_at"]
        if commit:
            review.save()
        return review


def _disclosed_ties(reviews: Iterable[Review]) -> list[tuple[Review, ReviewerDisclosure]]:
    """Each review whose reviewer discloses a relationship with its tool's vendor, with that disclosure."""
    reviews = [review for review in reviews if review.reviewer_id and review.tool_id]
    if not reviews:
        return []
    disclosures = ReviewerDisclosure.objects.filter(
        reviewer_id__in={review.reviewer_id for review in reviews},
        vendor_id__in={review.tool.vendor_id for review in reviews},
    ).select_related("vendor", "reviewer")
    return [
        (review, disclosure)
        for review in reviews
        for disclosure in disclosures
        if disclosure.reviewer_id == review.reviewer_id and disclosure.vendor_id == review.tool.vendor_id
    ]


def _tie_text(review: Review, disclosure: ReviewerDisclosure) -> str:
    return (
        f"{disclosure.reviewer.name} discloses a relationship with {disclosure.vendor.name}, the vendor of "
        f"{review.tool.name}: {disclosure.get_relationship_display().lower()} since {disclosure.since:%Y-%m-%d}. "
        "Readers see the disclosure beside the review."
    )


def warn_of_disclosed_ties(request: HttpRequest, reviews: Iterable[Review]) -> None:
    for review, disclosure in _disclosed_ties(reviews):
        messages.warning(request, _tie_text(review, disclosure))


class ReviewerDisclosureInline(admin.TabularInline):
    model = ReviewerDisclosure
    extra = 0
    fields = ["vendor", "relationship", "since", "note"]
    autocomplete_fields = ["vendor"]


@admin.register(Reviewer)
class ReviewerAdmin(SimpleHistoryAdmin):
    list_display = ["position", "name", "lens", "is_active", "review_count"]
    list_display_links = ["name"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "lens"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ReviewerDisclosureInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reviewer]:
        return super().get_queryset(request).annotate(review_count=Count("reviews"))

    @admin.display(description="Reviews", ordering="review_count")
    def review_count(self, reviewer: Reviewer) -> int:
        return reviewer.review_count


@admin.register(Review)
class ReviewAdmin(SimpleHistoryAdmin):
    form = ReviewAdminForm
    list_display = ["tool", "reviewer", "verdict", "is_published", "publish_at", "reviewed_at", "updated_at"]
    list_filter = ["is_published", "verdict", "reviewer", "tool__category"]
    list_select_related = ["tool", "reviewer"]
    search_fields = ["tool__name", "reviewer__name", "body"]
    autocomplete_fields = ["tool", "reviewer"]
    date_hierarchy = "updated_at"
    readonly_fields = ["disclosed_ties", "correction", "corrected_at"]
    fieldsets = [
        (None, {"fields": ["reviewer", "tool", "disclosed_ties", "verdict", "body", "reviewed_at"]}),
        ("Publishing", {"fields": ["is_published", "publish_at"]}),
        ("Correction (shown to readers)", {"fields": ["correction_note", "correction", "corrected_at"]}),
    ]

    @admin.display(description="Disclosed ties")
    def disclosed_ties(self, review: Review) -> str:
        ties = _disclosed_ties([review]) if review.pk else []
        if not ties:
            return "None with this tool's vendor."
        return format_html(
            '<ul class="messagelist">{}</ul>',
            format_html_join("", '<li class="warning">{}</li>', ((_tie_text(*tie),) for tie in ties)),
        )

    def save_model(self, request: HttpRequest, obj: Review, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        warn_of_disclosed_ties(request, [obj])

    actions = ["publish_selected", "unpublish_selected"]

    @admin.action(description="Publish selected reviews")
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        report_publishing(self, request, reviews_publish(reviews=queryset), queryset.count(), "published")

    @admin.action(description="Unpublish selected reviews")
    def unpublish_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        report_publishing(self, request, reviews_unpublish(reviews=queryset), queryset.count(), "unpublished")


@admin.register(Comparison)
class ComparisonAdmin(SimpleHistoryAdmin):
    list_display = ["title", "left_tool", "right_tool", "is_published", "publish_at", "updated_at"]
    list_filter = ["is_published"]
    list_select_related = ["left_tool", "right_tool"]
    search_fields = ["title", "headline", "left_tool__name", "right_tool__name"]
    autocomplete_fields = ["left_tool", "right_tool"]
    fields = ["left_tool", "right_tool", "title", "headline", "summary", "is_published", "publish_at", "preview_link"]
    readonly_fields = ["preview_link"]
    actions = ["publish_selected", "unpublish_selected"]

    @admin.action(description="Publish selected comparisons")
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Comparison]) -> None:
        report_publishing(self, request, comparisons_publish(comparisons=queryset), queryset.count(), "published")

    @admin.action(description="Unpublish selected comparisons")
    def unpublish_selected(self, request: HttpRequest, queryset: QuerySet[Comparison]) -> None:
        report_publishing(self, request, comparisons_unpublish(comparisons=queryset), queryset.count(), "unpublished")

    @admin.display(description="Preview")
    def preview_link(self, comparison: Comparison) -> str:
        return preview_link(comparison, kind="comparison")


class ReviewInline(admin.StackedInline):
    model = Review
    form = ReviewAdminForm
    extra = 0
    fields = ["reviewer", "verdict", "reviewed_at", "body", "is_published", "publish_at", "correction_note"]
    autocomplete_fields = ["reviewer"]


# The catalog knows no judge: the panel adds its reviews to the tool's page from here
# (tools is installed before reviews, so its admin is registered first).
admin.site.unregister(Tool)


@admin.register(Tool)
class ToolWithReviewsAdmin(ToolAdmin):
    inlines = [*ToolAdmin.inlines, ReviewInline]

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is Review:
            written = [*formset.new_objects, *(review for review, _ in formset.changed_objects)]
            warn_of_disclosed_ties(request, written)
