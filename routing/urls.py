from django.urls import path

from routing import views

app_name = "routing"
urlpatterns = [
    path("orders/<int:order_id>/decision/", views.order_decision, name="order-decision"),
]
