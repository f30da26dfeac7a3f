from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

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
