from django.db.models import QuerySet
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.views import APIView

MAX_SEARCH_TERMS = 10


class BoundedSearchFilter(SearchFilter):
    """`?search=` with at most MAX_SEARCH_TERMS words (each word is a clause of the
    query) and no NUL characters (PostgreSQL refuses them in text)."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        if "\x00" in request.query_params.get(self.search_param, ""):
            refusal = ErrorDetail("Null characters are not allowed.", code="null_characters_not_allowed")
            raise ValidationError({self.search_param: [refusal]})
        if len(self.get_search_terms(request)) > MAX_SEARCH_TERMS:
            raise ValidationError({self.search_param: [f"Use at most {MAX_SEARCH_TERMS} search terms."]})
        return super().filter_queryset(request, queryset, view)
