from django.urls import path

from returns import api

urlpatterns = [
    path("returns/", api.ReturnListCreateApi.as_view(), name="api-return-list"),
    path("returns/<str:number>/", api.ReturnDetailApi.as_view(), name="api-return-detail"),
    path("returns/<str:number>/in-transit", api.ReturnInTransitApi.as_view(), name="api-return-in-transit"),
    path("returns/<str:number>/refund", api.ReturnRefundApi.as_view(), name="api-return-refund"),
]
