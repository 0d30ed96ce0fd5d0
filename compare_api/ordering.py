from django.db.models import F, OrderBy, QuerySet
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView


class NullsLastOrderingFilter(OrderingFilter):
    """`?ordering=-panel_ship_rate` puts tools nobody rated last in either direction,
    and every ordering ends on the primary key so pages never overlap."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
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
