from django.contrib import admin
from django.urls import include, path

from compare_api.docs import RedocView, SchemaView, SwaggerView, redoc_bundle_view
from discovery import urls as discovery_urls
from events import urls as events_urls
from reviews import urls as reviews_urls
from tools import urls as tools_urls
from votes import urls as votes_urls
from webhooks import urls as webhooks_urls

# One flat list (each nested include() that fails to match costs Django an exception),
# the vote and account routes first: a write runs the most Python of any request.
api_v1 = [
    *votes_urls.urlpatterns,
    *events_urls.urlpatterns,
    *reviews_urls.urlpatterns,
    *tools_urls.urlpatterns,
    *discovery_urls.urlpatterns,
    *webhooks_urls.urlpatterns,
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("api/redoc/redoc.standalone.js", redoc_bundle_view, name="redoc-bundle"),
    path("admin/", admin.site.urls),
]

handler400 = "compare_api.errors.bad_request"
handler403 = "compare_api.errors.permission_denied"
handler404 = "compare_api.errors.not_found"
handler500 = "compare_api.errors.server_error"
