from django.urls import path, re_path

from fulfillment import api

urlpatterns = [
    path("fulfillment-orders/", api.FulfillmentOrderListApi.as_view(), name="api-fulfillment-order-list"),
    path("fulfillment-orders/<int:pk>/", api.FulfillmentOrderDetailApi.as_view(), name="api-fulfillment-order-detail"),
    # With or without the trailing slash: 3PL integrations differ.
    re_path(
        r"^fulfillment-orders/(?P<pk>[0-9]+)/events/?$",
        api.FulfillmentEventApi.as_view(),
        name="api-fulfillment-order-events",
    ),
    path(
        "shipments/<int:pk>/commercial-invoice.pdf",
        api.CommercialInvoiceApi.as_view(),
        name="api-shipment-commercial-invoice",
    ),
    path(
        "purchase-orders/<str:number>/shipment/",
        api.PurchaseOrderShipmentApi.as_view(),
        name="api-purchase-order-shipment",
    ),
    path("purchase-orders/confirmations.csv", api.PurchaseOrderCsvApi.as_view(), name="api-purchase-order-csv"),
]
