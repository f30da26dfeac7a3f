from django.urls import path

from returns import views

app_name = "returns"
urlpatterns = [
    path("", views.rma_list, name="list"),
    path("receive/", views.receive, name="receive"),
    path("start/", views.start, name="start"),
    path("new/<int:order_pk>/", views.create, name="create"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/receive/", views.receive_rma, name="receive-rma"),
    path("<str:number>/refund/", views.refund, name="refund"),
    path("<str:number>/reject/", views.reject, name="reject"),
]
