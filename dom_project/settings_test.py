"""Test settings: the real settings with tasks run inline, fast hashing and in-memory mail."""

import os
import tempfile

os.environ.setdefault("DEBUG", "1")
# Feed folders in tests are pytest's tmp_path folders, inside the system temp folder; set in the environment
# so worker and cluster processes started by tests get the same root. Tests of the root narrow it.
os.environ.setdefault("DOM_FEED_ROOT", tempfile.gettempdir())

from dom_project.settings import *  # noqa: E402,F403
from dom_project.settings import Q_CLUSTER  # noqa: E402

Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests run local HTTP servers; tests of the outbound guard switch these off.
DOM_OUTBOUND_ALLOW_HTTP = True
DOM_OUTBOUND_ALLOW_PRIVATE = True
