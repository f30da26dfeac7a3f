from django.urls import path

from analytics import views

app_name = "dashboard"
urlpatterns = [
    path("", views.dashboard_view, name="index"),
    path("export/<slug:table>.csv", views.dashboard_export_view, name="export"),
    path("kpi/<slug:code>/", views.kpi_drilldown_view, name="drilldown"),
    path("kpi/<slug:code>.csv", views.kpi_drilldown_view, {"fmt": "csv"}, name="drilldown-csv"),
]
