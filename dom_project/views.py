from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.defaults import page_not_found

from dom_project.selectors import home_panels


@login_required
def home(request):
    """Landing page: the signed-in user's work, by role."""
    return render(request, "home.html", {"panels": home_panels(user=request.user)})


def health(request):
    """Liveness and database check for load balancers."""
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return JsonResponse({"status": "ok"})
    except Exception as exc:  # noqa: BLE001 — any database failure means unhealthy
        return JsonResponse({"status": "error", "detail": str(exc)}, status=503)


def not_found(request, exception=None):
    """404 for a URL nothing matches: the API's JSON error under /api/, the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
