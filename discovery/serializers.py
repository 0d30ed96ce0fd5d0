"""The badge documents' shapes, for the schema (the views build them as plain data)."""

from rest_framework import serializers


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
