from django.urls import path

from fulfillment import views, views_public, views_stock

app_name = "fulfillment"
urlpatterns = [
    path("store/", views.queue, name="queue"),
    path("store/orders/<int:pk>/", views.order_detail, name="order"),
    path("store/orders/<int:pk>/<slug:action>/", views.order_action, name="order-action"),
    path("store/handover/", views.handover_search, name="handover"),
    path("store/handoff/", views.handoff, name="handoff"),
    path("store/receive/", views.receive, name="receive"),
    path("store/settings/", views.store_settings, name="settings"),
    path("store/stock/", views_stock.stock_lookup, name="stock"),
    path("store/count/", views_stock.count, name="count"),
    path("here/<str:token>/", views_public.checkin, name="checkin"),
    path("store/shipments/<int:pk>/<slug:kind>.pdf", views.shipment_document, name="shipment-document"),
]
