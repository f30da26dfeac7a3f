from django.urls import path

from orders import api

urlpatterns = [
    path("orders/", api.OrderListIngestApi.as_view(), name="api-order-list"),
    path("orders/import/", api.OrderCsvImportApi.as_view(), name="api-order-import"),
    path("orders/<int:pk>/", api.OrderDetailApi.as_view(), name="api-order-detail"),
    path("orders/<int:pk>/cancel", api.OrderCancelApi.as_view(), name="api-order-cancel"),
    path("orders/<int:pk>/lines/", api.OrderLineAddApi.as_view(), name="api-order-line-add"),
    path("orders/<int:pk>/lines/<int:line_number>/", api.OrderLineApi.as_view(), name="api-order-line"),
    path(
        "orders/<int:pk>/holds/<int:hold_id>/release", api.OrderHoldReleaseApi.as_view(), name="api-order-hold-release"
    ),
    path(
        "channels/<slug:code>/shopify/orders-create",
        api.ShopifyOrderCreateWebhookApi.as_view(),
        name="api-shopify-orders-create",
    ),
    path(
        "channels/<slug:code>/shopify/orders-changes",
        api.ShopifyOrderChangeWebhookApi.as_view(),
        name="api-shopify-orders-changes",
    ),
]
