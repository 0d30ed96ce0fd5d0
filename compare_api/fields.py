from rest_framework import serializers


class BlankAsNullCharField(serializers.CharField):
    """A text fact that may be unknown: the empty string goes out as null."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: str) -> str | None:
        return value or None


class TallySerializer(serializers.Serializer):
    """`panel` and `community`: counts, the ship rate, and its Wilson 95% interval."""

    ship = serializers.IntegerField(min_value=0)
    skip = serializers.IntegerField(min_value=0)
    total = serializers.IntegerField(min_value=0)
    ship_rate = serializers.FloatField(
        allow_null=True, min_value=0, max_value=1, help_text="ship / total; null when total is 0 (no data, not 0%)."
    )
    ci95 = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=1),
        min_length=2,
        max_length=2,
        allow_null=True,
        help_text="Wilson 95% interval [low, high] of the ship rate; null when total is 0.",
    )
