from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from compare_api.params import whole_number


class PageNumberPagination(pagination.PageNumberPagination):
    """Pages of 25 by default; `?page_size=` from 1 to 100.

    A page or page size that is not a whole number in ASCII digits (compare_api.params),
    or a page size outside 1 to 100, is refused like a page that does not exist (DRF's
    "Invalid page." 404), not silently replaced: the schema publishes the bound, and a
    client asking for more must not get less without being told.
    """

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = whole_number(raw)
        if size is None or not 1 <= size <= self.max_page_size:
            raise NotFound(f"Invalid page size: use 1 to {self.max_page_size}.")
        return size

    def get_page_number(self, request: Request, paginator) -> str:
        raw = request.query_params.get(self.page_query_param)
        # DRF would read an empty `?page=` as page 1, and Django's paginator `?page=١` as page 1.
        if raw is not None and whole_number(raw) is None:
            raise NotFound("Invalid page.")
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
                parameter["schema"]["default"] = self.page_size
                parameter["description"] = f"Results per page, 1 to {self.max_page_size} ({self.page_size} by default)."
            else:
                # Pages past the last are a 404 anyway; the bound only states what a page number can be.
                parameter["schema"]["maximum"] = 2147483647
        return parameters
