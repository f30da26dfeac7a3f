from django.urls import path

from inventory import views, views_backorders, views_forecasts, views_receiving

app_name = "inventory"
urlpatterns = [
    path("", views.stock_overview, name="overview"),
    path("imports/", views.stock_import_list, name="imports"),
    path("imports/<int:pk>/", views.stock_import_detail, name="import-detail"),
    path("imports/<int:pk>/errors.csv", views.stock_import_errors_csv, name="import-errors"),
    path("accuracy/", views.accuracy, name="accuracy"),
    path("feeds/", views.feed_list, name="feeds"),
    path("feeds/<int:pk>/action/", views.feed_action, name="feed-action"),
    path("backorders/", views_backorders.backorders, name="backorders"),
    path("safety-stock/", views_forecasts.safety_stock_proposals, name="safety-proposals"),
    path("safety-stock/<int:pk>/decide/", views_forecasts.safety_stock_decide, name="safety-decide"),
    path("receiving/", views_receiving.receiving, name="receiving"),
    path("receiving/inbound/<str:number>/", views_receiving.receiving_inbound, name="receiving-inbound"),
    path("receiving/transfers/<str:number>/", views_receiving.receiving_transfer, name="receiving-transfer"),
]
