from django.urls import path

from orders import views

app_name = "orders"
urlpatterns = [
    path("", views.order_list_view, name="list"),
    path("<int:pk>/", views.order_detail_view, name="detail"),
    path("bulk/", views.orders_bulk_view, name="bulk"),
    path("filters/save/", views.order_filter_save_view, name="filter-save"),
    path("filters/<int:pk>/delete/", views.order_filter_delete_view, name="filter-delete"),
    path("<int:pk>/cancel/", views.order_cancel_view, name="cancel"),
    path("<int:pk>/change/", views.order_change_view, name="change"),
    path("holds/", views.hold_queue_view, name="holds"),
    path("channel-updates/", views.channel_updates_view, name="channel-updates"),
    path("holds/<int:pk>/release/", views.hold_release_view, name="hold-release"),
    path("holds/<int:pk>/cancel-order/", views.hold_cancel_order_view, name="hold-cancel-order"),
    path("import/", views.order_import_view, name="import"),
    path("customers/<int:pk>/", views.customer_view, name="customer"),
]
