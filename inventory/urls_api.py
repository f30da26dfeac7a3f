from django.urls import path

from inventory import api

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
    path("wms/<slug:feed>/events", api.WmsEventsPushApi.as_view(), name="api-wms-events"),
]
