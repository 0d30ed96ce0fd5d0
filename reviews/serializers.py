from rest_framework import serializers

from compare_api.fields import BlankAsNullCharField
from compare_api.stats import RANKING_METHOD
from reviews.models import Comparison, Relationship, Review, Reviewer, ReviewerDisclosure
from tools.models import Verdict
from tools.serializers import ToolSerializer, VendorRefSerializer


class ReviewerRefSerializer(serializers.ModelSerializer):
    # Declared so the schema does not depend on the database's small-integer range.
    position = serializers.IntegerField(min_value=0, max_value=32767, help_text="Order on the panel (scorecard row).")
    bio = BlankAsNullCharField()

    class Meta:
        model = Reviewer
        fields = ["slug", "name", "lens", "bio", "position"]


class DisclosureSerializer(serializers.ModelSerializer):
    vendor = VendorRefSerializer()
    relationship = serializers.ChoiceField(choices=Relationship.choices)
    since = serializers.DateField(help_text="When the relationship began.")

    class Meta:
        model = ReviewerDisclosure
        fields = ["vendor", "relationship", "since"]


DISCLOSURES_HELP = "Conflicts of interest the reviewer discloses: one per vendor and relationship; [] when none."


class PanelReviewerSerializer(ReviewerRefSerializer):
    """The reviewer of a scorecard row: who they are, and what ties them to which vendors."""

    disclosures = DisclosureSerializer(many=True, help_text=DISCLOSURES_HELP)

    class Meta(ReviewerRefSerializer.Meta):
        fields = [*ReviewerRefSerializer.Meta.fields, "disclosures"]


class ReviewerSerializer(ReviewerRefSerializer):
    review_count = serializers.IntegerField(read_only=True, help_text="Reviews of published tools.")
    ship_count = serializers.IntegerField(read_only=True, help_text="Of those, how many say ship.")
    disclosures = DisclosureSerializer(many=True, read_only=True, help_text=DISCLOSURES_HELP)

    class Meta(ReviewerRefSerializer.Meta):
        fields = [*ReviewerRefSerializer.Meta.fields, "review_count", "ship_count", "disclosures"]


CORRECTION_HELP = (
    "The latest correction note of the verdict or text, as the editors wrote it; null when never corrected."
)
UPDATED_AT_HELP = "When the verdict or text was last corrected (with `correction`); null when never."


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = ReviewerRefSerializer()
    tool = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    tool_name = serializers.CharField(source="tool.name", read_only=True)

    correction = BlankAsNullCharField(read_only=True, help_text=CORRECTION_HELP)
    updated_at = serializers.DateTimeField(
        source="corrected_at", read_only=True, allow_null=True, help_text=UPDATED_AT_HELP
    )

    class Meta:
        model = Review
        fields = ["reviewer", "tool", "tool_name", "verdict", "body", "reviewed_at", "correction", "updated_at"]


class ScorecardEntrySerializer(serializers.Serializer):
    tool = serializers.SlugField(help_text="Slug of the tool this verdict is on (requested order).")
    verdict = serializers.ChoiceField(choices=Verdict.choices, allow_null=True, help_text="null: not reviewed.")
    body = serializers.CharField(allow_null=True, help_text="The review text; null: not reviewed.")
    reviewed_at = serializers.DateField(allow_null=True)
    correction = serializers.CharField(allow_null=True, help_text=CORRECTION_HELP)
    updated_at = serializers.DateTimeField(allow_null=True, help_text=UPDATED_AT_HELP)


class ScorecardRowSerializer(serializers.Serializer):
    reviewer = PanelReviewerSerializer()
    reviews = ScorecardEntrySerializer(many=True, help_text="One entry per requested tool, in the same order.")
    split = serializers.BooleanField(
        help_text="At least two of the reviewer's verdicts on these tools differ (missing reviews count for neither)."
    )


class ComparisonSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text="The requested `a-vs-b` (up to `a-vs-b-vs-c-vs-d`), in the requested order.")
    canonical_slug = serializers.CharField(
        help_text="The curated order of the pair, else the requested slug (always so for three or four tools)."
    )
    curated = serializers.BooleanField(
        help_text="Staff wrote editorial text for this pair (never for three or four tools)."
    )
    title = serializers.CharField(allow_null=True, help_text="Editorial title; null unless curated.")
    headline = serializers.CharField(allow_null=True, help_text="Editorial headline; null unless curated.")
    summary = serializers.CharField(allow_null=True, help_text="Editorial summary; null unless curated.")
    tools = ToolSerializer(many=True)
    scorecard = ScorecardRowSerializer(many=True)
    reviewer_split = serializers.ListField(
        child=serializers.SlugField(),
        help_text="Slugs of the reviewers whose row splits: at least two of their verdicts on these tools differ.",
    )
    panel_pick = serializers.SlugField(
        allow_null=True,
        help_text="Slug of the tool with the highest panel ship rate; null on a tie for the highest, "
        "or when any tool has no panel reviews.",
    )
    community_pick = serializers.SlugField(
        allow_null=True,
        required=False,
        help_text="Only on comparisons of three or four tools: slug of the tool whose community ci95 interval "
        "lies entirely above every other tool's (the intervals of the ranking method "
        f"`{RANKING_METHOD}`); null when none does, or when any tool has fewer than the leaderboards' "
        "minimum of counted votes (`min_total` in their `meta`, 10 by default): its interval can neither "
        "pick nor rule out.",
    )


class CuratedComparisonSerializer(serializers.ModelSerializer):
    slug = serializers.CharField(read_only=True)
    headline = BlankAsNullCharField()
    summary = BlankAsNullCharField()
    tools = serializers.SerializerMethodField()

    class Meta:
        model = Comparison
        fields = ["slug", "title", "headline", "summary", "tools"]

    def get_tools(self, comparison: Comparison) -> list[str]:
        return [comparison.left_tool.slug, comparison.right_tool.slug]
