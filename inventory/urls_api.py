from django.urls import path

from inventory import api, api_supply

urlpatterns = [
    path("locations/", api.LocationListCreateApi.as_view(), name="api-location-list"),
    path("locations/<str:code>/", api.LocationDetailApi.as_view(), name="api-location-detail"),
    path("products/", api.ProductListCreateApi.as_view(), name="api-product-list"),
    path("products/<path:sku>/", api.ProductDetailApi.as_view(), name="api-product-detail"),
    path("availability/", api.AvailabilityApi.as_view(), name="api-availability"),
    path("availability/pickup/", api.PickupAvailabilityApi.as_view(), name="api-availability-pickup"),
    path("reservations/", api.ReservationCreateApi.as_view(), name="api-reservation-create"),
    path("reservations/<int:pk>/", api.ReservationDetailApi.as_view(), name="api-reservation-detail"),
]
urlpatterns += [
    path("availability/timeline/", api_supply.AvailabilityTimelineApi.as_view(), name="api-availability-timeline"),
    path("inbound/", api_supply.InboundListCreateApi.as_view(), name="api-inbound-list"),
    path("inbound/import/", api_supply.InboundImportApi.as_view(), name="api-inbound-import"),
    path("inbound/<str:number>/", api_supply.InboundDetailApi.as_view(), name="api-inbound-detail"),
    path("inbound/<str:number>/receive/", api_supply.InboundReceiveApi.as_view(), name="api-inbound-receive"),
    path("inbound/<str:number>/redate/", api_supply.InboundRedateApi.as_view(), name="api-inbound-redate"),
    path("inbound/<str:number>/close-line/", api_supply.InboundCloseLineApi.as_view(), name="api-inbound-close-line"),
    path("transfers/", api_supply.TransferListCreateApi.as_view(), name="api-transfer-list"),
    path("transfers/<str:number>/", api_supply.TransferDetailApi.as_view(), name="api-transfer-detail"),
    path("transfers/<str:number>/ship/", api_supply.TransferShipApi.as_view(), name="api-transfer-ship"),
    path("transfers/<str:number>/receive/", api_supply.TransferReceiveApi.as_view(), name="api-transfer-receive"),
    path("transfers/<str:number>/cancel/", api_supply.TransferCancelApi.as_view(), name="api-transfer-cancel"),
]
urlpatterns += [
    path("wms/<slug:feed>/events", api.WmsEventsPushApi.as_view(), name="api-wms-events"),
]
