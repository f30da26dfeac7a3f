from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_settings, name="settings"),
    path("preview/", views.notification_preview_page, name="preview"),
    path("preview/html/", views.notification_preview_html, name="preview-html"),
    path("messages/<int:pk>/resend/", views.message_resend, name="resend"),
]
