#!/usr/bin/env bash
# Serve the back-office and run the django-q2 worker together; Ctrl-C stops both. PORT (default 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"
$PY manage.py qcluster &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM
echo "Back-office: http://127.0.0.1:$PORT/  (worker pid $worker; Ctrl-C stops both)"
$PY manage.py runserver "127.0.0.1:$PORT"
