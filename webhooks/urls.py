from django.urls import path

from webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("", views.subscription_list, name="list"),
    path("<int:pk>/", views.subscription_detail, name="detail"),
    path("<int:pk>/toggle/", views.subscription_toggle, name="toggle"),
    path("<int:pk>/rotate/", views.subscription_rotate, name="rotate"),
    path("deliveries/<int:pk>/resend/", views.delivery_resend, name="resend"),
]
