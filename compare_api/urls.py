from django.contrib import admin
from django.urls import include, path

from compare_api.docs import RedocView, SchemaView, SwaggerView

api_v1 = [
    path("", include("tools.urls")),
    path("", include("reviews.urls")),
    path("", include("votes.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
]

handler400 = "compare_api.errors.bad_request"
handler403 = "compare_api.errors.permission_denied"
handler404 = "compare_api.errors.not_found"
handler500 = "compare_api.errors.server_error"
