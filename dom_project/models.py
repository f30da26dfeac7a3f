"""No models of its own; present so the app receives post_migrate (see apps.py)."""
