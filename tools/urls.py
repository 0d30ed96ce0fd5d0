from rest_framework.routers import SimpleRouter

from tools import views

router = SimpleRouter()
router.register("categories", views.CategoryViewSet, basename="category")
router.register("vendors", views.VendorViewSet, basename="vendor")
router.register("tools", views.ToolViewSet, basename="tool")

urlpatterns = router.urls
