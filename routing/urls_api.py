from django.urls import path

from routing import api

urlpatterns = [
    path("orders/<int:pk>/routing/", api.OrderRoutingApi.as_view(), name="api-order-routing"),
    path("promise/", api.PromiseApi.as_view(), name="api-promise"),
]
