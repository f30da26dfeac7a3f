from django.urls import include, path

from routing import views, views_shortages

app_name = "routing"
urlpatterns = [
    path("orders/<int:order_id>/decision/", views.order_decision, name="order-decision"),
    path("rules/", include("routing.editor.urls")),  # the merchandiser rule editor
    path("shortages/", views_shortages.shortage_list, name="shortages"),
    path("shortages/reroute/", views_shortages.shortage_reroute, name="shortages-reroute"),
]
