"""The shapes of the discovery documents, for the schema (the selectors build plain data)."""

from rest_framework import serializers

from compare_api.fields import TallySerializer
from compare_api.stats import RANKING_METHOD
from tools.serializers import CategoryRefSerializer, ToolSerializer

METRIC_CHOICES = [("community", "Community votes"), ("panel", "The panel's reviews")]
STATUS_CHOICES = [
    ("ranked", "Ranked"),
    ("not_enough_votes", "Not enough counted votes yet (community board)"),
    ("not_reviewed", "Not reviewed by the panel yet (panel board)"),
]


class LeaderboardMetaSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=METRIC_CHOICES)
    method = serializers.CharField(help_text=f"The ranking rule's versioned name (`{RANKING_METHOD}`).")
    min_total = serializers.IntegerField(
        min_value=0, help_text="The fewest counted votes (community) or reviews (panel) a ranked tool has."
    )
    as_of = serializers.DateTimeField(help_text="When the board was computed.")
    category = CategoryRefSerializer(allow_null=True, help_text="The category ranked; null on the overall board.")
    ranked_count = serializers.IntegerField(min_value=0)
    unranked_count = serializers.IntegerField(min_value=0, help_text="Tools listed after the ranked ones, unranked.")
    note = serializers.CharField(help_text="How to read this board's ranks, in a sentence or three.")


class LeaderboardEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField(
        min_value=1,
        allow_null=True,
        help_text="1 + the number of tools whose 95% interval lies entirely above this one's; shared by tools "
        "that cannot be told apart. null: not ranked (see `status`).",
    )
    status = serializers.ChoiceField(choices=STATUS_CHOICES)
    tied_with = serializers.ListField(
        child=serializers.SlugField(),
        max_length=5,
        help_text="Slugs of up to 5 tools on this board whose intervals overlap this one's, nearest first.",
    )
    tied_count = serializers.IntegerField(
        min_value=0, help_text="How many tools on this board this one cannot be told apart from, in all."
    )
    tally = TallySerializer(help_text="The tool's tally for the board's metric.")
    tool = ToolSerializer()


class LeaderboardPageSerializer(serializers.Serializer):
    meta = LeaderboardMetaSerializer()
    count = serializers.IntegerField(min_value=0, help_text="Ranked and unranked tools on the board.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = LeaderboardEntrySerializer(many=True)


class AlternativeSerializer(serializers.Serializer):
    reasons = serializers.ListField(
        child=serializers.ChoiceField(
            choices=[("same_category", "In the same category"), ("curated", "Staff curated a comparison of the two")]
        ),
        min_length=1,
        help_text="Why the tool is listed: `same_category`, `curated`, or both.",
    )
    comparison = serializers.CharField(
        help_text="The comparison slug that pairs it with the asked-for tool: the curated order where staff "
        "curated the pair, else `{asked}-vs-{this}`."
    )
    ranked_by = serializers.ChoiceField(
        choices=METRIC_CHOICES,
        allow_null=True,
        help_text="Whose interval ordered it: `community` with enough counted votes, else `panel`; null: neither.",
    )
    lower_bound = serializers.FloatField(
        allow_null=True, min_value=0, max_value=1, help_text="The lower bound of that 95% interval."
    )
    tool = ToolSerializer()


class AlternativesPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=0)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AlternativeSerializer(many=True)


class MethodologyReviewerSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    lens = serializers.CharField()


class MethodologyPanelSerializer(serializers.Serializer):
    description = serializers.CharField()
    size = serializers.IntegerField(min_value=0, help_text="Active reviewers: the most verdicts a tool can have.")
    reviewers = MethodologyReviewerSerializer(many=True)


class MethodologyCommunitySerializer(serializers.Serializer):
    description = serializers.CharField()
    min_total = serializers.IntegerField(min_value=0, help_text="Counted votes a tool needs to be ranked.")


class MethodologyIntervalSerializer(serializers.Serializer):
    name = serializers.CharField()
    confidence = serializers.FloatField()
    z = serializers.FloatField()
    description = serializers.CharField()


class MethodologyMinimumsSerializer(serializers.Serializer):
    community = serializers.IntegerField(min_value=0)
    panel = serializers.IntegerField(min_value=0)


class MethodologyRankingSerializer(serializers.Serializer):
    method = serializers.CharField()
    rule = serializers.CharField()
    order = serializers.CharField()
    ties = serializers.CharField()
    min_total = MethodologyMinimumsSerializer()
    panel_note = serializers.CharField()


class MethodologyPicksSerializer(serializers.Serializer):
    panel_pick = serializers.CharField()
    community_pick = serializers.CharField()


class MethodologySerializer(serializers.Serializer):
    method = serializers.CharField(help_text=f"The ranking rule's versioned name (`{RANKING_METHOD}`).")
    panel = MethodologyPanelSerializer()
    community = MethodologyCommunitySerializer()
    ship_rate = serializers.CharField()
    interval = MethodologyIntervalSerializer()
    ranking = MethodologyRankingSerializer()
    picks = MethodologyPicksSerializer()
    badges = serializers.CharField(help_text="What the badges say and what their colours mean.")
    alternatives = serializers.CharField()


class ShieldsEndpointSerializer(serializers.Serializer):
    """shields.io's endpoint-badge document (schema version 1), nothing else: shields refuses
    unknown keys."""

    schemaVersion = serializers.ChoiceField(choices=[1], help_text="Always 1.")  # noqa: N815 - shields' name
    label = serializers.CharField(help_text="The left text: `Panel` or `Community`.")
    message = serializers.CharField(help_text="The right text, e.g. `3/4 ship`, `72% · 1,240 votes`, `—`.")
    color = serializers.RegexField(r"^#[0-9a-f]{6}$", help_text="The right side's colour (the light theme's).")
    cacheSeconds = serializers.IntegerField(  # noqa: N815 - shields' name
        min_value=0, max_value=86400, help_text="How long shields may keep it (BADGE_MAX_AGE)."
    )


class BadgeSnippetSerializer(serializers.Serializer):
    svg = serializers.URLField(help_text="The SVG badge (light theme; add `&theme=dark` or `&theme=auto`).")
    json = serializers.URLField(help_text="The same badge in shields.io's endpoint format.")
    html = serializers.CharField(help_text="An `<a><img></a>` linking to the tool's page on the site.")
    markdown = serializers.CharField(help_text="The same as Markdown.")


class BadgeSnippetsSerializer(serializers.Serializer):
    panel = BadgeSnippetSerializer()
    community = BadgeSnippetSerializer()


class BadgeEmbedSerializer(serializers.Serializer):
    tool = serializers.CharField(help_text="The tool's slug.")
    link = serializers.URLField(help_text="The tool's page on the site (SITE_URL), which every snippet links to.")
    method = serializers.CharField(help_text="The version of the method behind the badges' colours and ranks.")
    badges = BadgeSnippetsSerializer(help_text="URLs and snippets per metric.")
