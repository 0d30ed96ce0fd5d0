from rest_framework.routers import SimpleRouter

from webhooks import views

router = SimpleRouter()
router.register("webhooks/endpoints", views.WebhookEndpointViewSet, basename="webhook-endpoint")

urlpatterns = router.urls
