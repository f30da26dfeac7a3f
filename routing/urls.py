from django.urls import include, path

from routing import views

app_name = "routing"
urlpatterns = [
    path("orders/<int:order_id>/decision/", views.order_decision, name="order-decision"),
    path("rules/", include("routing.urls_editor")),  # the merchandiser rule editor
]
