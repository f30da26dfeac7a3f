"""Recurring django-q2 jobs of the project; `python manage.py setup_schedules` installs them."""

SCHEDULES = [
    ("partitions: create the coming months", "dom_project.tasks.partitions_ensure_task", 24 * 60),
    ("partitions: archive months past retention", "dom_project.tasks.partitions_archive_task", 24 * 60),
]
