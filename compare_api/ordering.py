from django.db.models import F, OrderBy, QuerySet
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView


class NullsLastOrderingFilter(OrderingFilter):
    """`?ordering=-panel_ship_rate` puts tools nobody rated last in either direction,
    and every ordering ends on the primary key so pages never overlap.

    `ordering` is one of the view's choices, as the schema's enum says; anything else
    (an unknown field, an empty value, DRF's comma-joined lists) is a 400 naming the
    choices. DRF would drop what it does not know and answer in the default order,
    which a client cannot tell from the order it asked for.
    """

    def choices(self, queryset: QuerySet, view: APIView) -> list[str]:
        context = {"request": getattr(view, "request", None)}
        fields = [name for name, _ in self.get_valid_fields(queryset, view, context)]
        return [order for name in fields for order in (name, f"-{name}")]

    def get_ordering(self, request: Request, queryset: QuerySet, view: APIView) -> list[str]:
        value = request.query_params.get(self.ordering_param)
        if value is None:
            return self.get_default_ordering(view)
        choices = self.choices(queryset, view)
        if value not in choices:
            refusal = ErrorDetail(
                f"Unknown ordering {value!r}: use one of {', '.join(choices)}.", code="invalid_choice"
            )
            raise ValidationError({self.ordering_param: [refusal]})
        return [value]

    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        if getattr(view, "detail", False):
            return queryset  # one object: nothing to order (and no reason to refuse an ordering)
        ordering = self.get_ordering(request, queryset, view)
        if not ordering:
            return queryset
        expressions: list[OrderBy] = []
        for field in ordering:
            name = field.lstrip("-")
            expression = F(name).desc(nulls_last=True) if field.startswith("-") else F(name).asc(nulls_last=True)
            expressions.append(expression)
        if not any(field.lstrip("-") in ("id", "pk") for field in ordering):
            expressions.append(F("id").asc())
        return queryset.order_by(*expressions)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict]:
        default = ", ".join(getattr(view, "ordering", None) or ["name"])
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": f"Sort order; `-` sorts descending (default: `{default}`). Any other value is a 400.",
                "schema": {"type": "string", "enum": self.choices(view.get_queryset(), view)},
            }
        ]
