from django.db.models import F, OrderBy, QuerySet
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView


class NullsLastOrderingFilter(OrderingFilter):
    """`?ordering=-panel_ship_rate` puts tools nobody rated last in either direction,
    and every ordering ends on the primary key so pages never overlap.

    An ordering the view does not offer is a 400 naming the choices (DRF would drop
    it silently and answer in the default order, which a client cannot tell from
    the order it asked for). The schema publishes the choices as an enum.
    """

    def choices(self, queryset: QuerySet, view: APIView) -> list[str]:
        fields = [name for name, _ in self.get_valid_fields(queryset, view, {"request": getattr(view, "request", None)})]
        return [order for name in fields for order in (name, f"-{name}")]

    def remove_invalid_fields(self, queryset: QuerySet, fields: list[str], view: APIView, request: Request) -> list:
        choices = self.choices(queryset, view)
        unknown = [field for field in fields if field not in choices]
        if unknown:
            refusal = ErrorDetail(
                f"Unknown ordering {unknown[0]!r}: use one of {', '.join(choices)} (several joined by commas).",
                code="invalid_choice",
            )
            raise ValidationError({self.ordering_param: [refusal]})
        return fields

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
                "description": f"Sort order; `-` sorts descending (default: `{default}`). Several may be joined "
                "by commas. Any other value is a 400.",
                "schema": {"type": "string", "enum": self.choices(view.get_queryset(), view)},
            }
        ]
