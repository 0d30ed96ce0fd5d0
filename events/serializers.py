"""The change feed's and the history's documents, for the schema (the views build plain dicts).

Each event type has its own component, `<Type>Event` (its `type` a one-value
enum) with its `data` component; `Event` is their oneOf, discriminated by `type`.
"""

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from drf_standardized_errors.openapi_serializers import ClientErrorEnum
from rest_framework import serializers

from compare_api.fields import TallySerializer
from tools.models import Verdict


class EventToolRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()


class EventReviewerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()


class ToolPublishedDataSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    panel = TallySerializer()
    community = TallySerializer()


class ToolUpdatedDataSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField(help_text="The slug now (`changes.slug` too when it changed).")
    changes = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Each public field of the tool document that changed (as `GET /tools/{slug}/` shows it: "
        "`name`, `tagline`, `pricing`, ...), with its new value. Tallies move in `tool.tallies_changed`.",
    )


class RefDataSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()


class ReviewDataSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The review's id.")
    tool = EventToolRefSerializer()
    reviewer = EventReviewerRefSerializer()
    verdict = serializers.ChoiceField(choices=Verdict.choices, help_text="The verdict (withdrawn: the last one).")


class ReviewUpdatedDataSerializer(ReviewDataSerializer):
    changed = serializers.ListField(
        child=serializers.ChoiceField(choices=[("verdict", "verdict"), ("body", "body")]),
        help_text="What changed: the verdict, the text, or both.",
    )
    previous_verdict = serializers.ChoiceField(choices=Verdict.choices)
    correction = serializers.CharField(
        allow_null=True,
        help_text="The correction note published with this change (as the review's `correction`); "
        "null when the change came without one.",
    )


class ReviewerDataSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class ComparisonPublishedDataSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField(help_text="The pair, `left-vs-right`.")
    title = serializers.CharField()


class ComparisonChangesSerializer(serializers.Serializer):
    """Only the fields that changed are present, with their new values."""

    slug = serializers.CharField(required=False)
    title = serializers.CharField(required=False)
    headline = serializers.CharField(required=False, allow_null=True)
    summary = serializers.CharField(required=False, allow_null=True)


class ComparisonUpdatedDataSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField(help_text="The pair, `left-vs-right`.")
    changes = ComparisonChangesSerializer()


class TalliesChangedDataSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    panel = TallySerializer()
    community = TallySerializer()


# type -> (what the event records, its data)
EVENT_TYPES: dict[str, tuple[str, type[serializers.Serializer]]] = {
    "tool.published": ("A tool was published (created published, or its flag turned on).", ToolPublishedDataSerializer),
    "tool.updated": ("Public facts of a published tool changed.", ToolUpdatedDataSerializer),
    "tool.unpublished": ("A tool was unpublished or deleted.", RefDataSerializer),
    "tool.tallies_changed": (
        "A published tool's panel or community tallies moved (at most one per tool per period).",
        TalliesChangedDataSerializer,
    ),
    "review.published": (
        "A review became visible: written for a published tool by an active reviewer.",
        ReviewDataSerializer,
    ),
    "review.updated": ("A visible review's verdict or text changed.", ReviewUpdatedDataSerializer),
    "review.withdrawn": ("A visible review was deleted.", ReviewDataSerializer),
    "reviewer.joined": ("A reviewer joined the panel (created active, or made active).", ReviewerDataSerializer),
    "reviewer.left": ("A reviewer left the panel (made inactive, or deleted).", ReviewerDataSerializer),
    "comparison.published": ("A curated comparison was published.", ComparisonPublishedDataSerializer),
    "comparison.updated": ("A published curated comparison's text or pair changed.", ComparisonUpdatedDataSerializer),
    "comparison.unpublished": ("A curated comparison was unpublished or deleted.", RefDataSerializer),
}


def _component(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.replace("_", ".").split(".")) + "Event"


def _event_serializer(event_type: str, description: str, data: type[serializers.Serializer]) -> type:
    type_field = extend_schema_field({"type": "string", "enum": [event_type]})(
        type("EventTypeField", (serializers.CharField,), {})
    )
    fields = {
        "__doc__": description,
        "id": serializers.IntegerField(help_text="The event's id (unique; not its feed order)."),
        "type": type_field(),
        "schema_version": serializers.IntegerField(help_text="The version of this type's `data` shape."),
        "created_at": serializers.DateTimeField(),
        "data": data(),
    }
    return type(_component(event_type).removesuffix("Event") + "EventSerializer", (serializers.Serializer,), fields)


EVENT_SERIALIZERS = {name: _event_serializer(name, *spec) for name, spec in EVENT_TYPES.items()}

EventSerializer = PolymorphicProxySerializer(
    component_name="Event",
    serializers=EVENT_SERIALIZERS,
    resource_type_field_name="type",
    many=True,
)


class ChangesPageSerializer(serializers.Serializer):
    results = EventSerializer
    next = serializers.CharField(
        help_text="The cursor to ask for what comes after this page with (`after=`); always present."
    )
    has_more = serializers.BooleanField(help_text="More events are there already: ask again at once.")


class HistoryDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    panel = TallySerializer()
    community = TallySerializer()


class ErrorCode410Enum:
    choices = [("cursor_expired", "Cursor expired")]


class Error410Serializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=ErrorCode410Enum.choices)
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ErrorResponse410Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = Error410Serializer(many=True)
