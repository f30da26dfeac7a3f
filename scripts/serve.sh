#!/usr/bin/env bash
# Serve the back-office and run the django-q2 worker together; Ctrl-C stops both. PORT (default 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"
# Links in the e-mails the worker sends (the customer's "I'm here" check-in) point at this server.
export DOM_PUBLIC_BASE_URL="${DOM_PUBLIC_BASE_URL:-http://127.0.0.1:$PORT}"
$PY manage.py qcluster &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM
echo "Back-office: http://127.0.0.1:$PORT/  (worker pid $worker; Ctrl-C stops both)"
$PY manage.py runserver "127.0.0.1:$PORT"
