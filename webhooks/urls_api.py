from django.urls import path

from webhooks import api

urlpatterns = [
    path("webhook-subscriptions/", api.SubscriptionListApi.as_view(), name="api-subscription-list"),
    path("webhook-subscriptions/<int:pk>/", api.SubscriptionDetailApi.as_view(), name="api-subscription-detail"),
    path(
        "webhook-subscriptions/<int:pk>/rotate-secret",
        api.SubscriptionRotateApi.as_view(),
        name="api-subscription-rotate",
    ),
    path(
        "webhook-subscriptions/<int:pk>/deliveries/",
        api.SubscriptionDeliveriesApi.as_view(),
        name="api-subscription-deliveries",
    ),
    path("webhook-deliveries/<int:pk>/resend", api.DeliveryResendApi.as_view(), name="api-delivery-resend"),
]
