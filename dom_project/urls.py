from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from dom_project import views, views_audit

# Each app owns its screens (<app>/urls.py) and its API (<app>/urls_api.py), all under /api/v1/.
api_v1 = [
    path("", include("inventory.urls_api")),
    path("", include("orders.urls_api")),
    path("", include("routing.urls_api")),
    path("", include("fulfillment.urls_api")),
    path("", include("returns.urls_api")),
    path("", include("webhooks.urls_api")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset by e-mail (Django's views): the same answer whether or not the address has an account.
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("health/", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("inventory/", include("inventory.urls")),
    path("orders/", include("orders.urls")),
    path("routing/", include("routing.urls")),
    path("fulfillment/", include("fulfillment.urls")),
    path("returns/", include("returns.urls")),
    path("dashboard/", include("analytics.urls")),
    path("audit/", views_audit.audit_log, name="audit-log"),
    path("webhooks/", include("webhooks.urls")),
    path("notifications/", include("notifications.urls")),
]

handler404 = "dom_project.views.not_found"
