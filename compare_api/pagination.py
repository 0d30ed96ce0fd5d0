from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from compare_api.params import whole_number


class PageNumberPagination(pagination.PageNumberPagination):
    """Pages of 25 by default; `?page_size=` from 1 to 100 (larger asks get 100).

    A page or page size that is not a whole number in ASCII digits (compare_api.params),
    from 1 up, is refused like a page that does not exist (DRF's "Invalid page." 404),
    not silently replaced.
    """

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = whole_number(raw)
        if size is None or size < 1:
            raise NotFound("Invalid page size.")
        return min(size, self.max_page_size)

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
        return parameters
