"""Where uploads wait: a local folder by default, an S3-compatible bucket when configured, and
django-storages' backend imported only then."""

from __future__ import annotations

import json

from tests.fixtures.processes import run_manage

SHOW = """
import json, sys
from django.conf import settings
from django.core.files.storage import storages
entry = settings.STORAGES["imports"]
print(json.dumps({
    "backend": entry["BACKEND"],
    "options": {k: str(v) for k, v in entry.get("OPTIONS", {}).items()},
    "imported": "storages" in sys.modules,
    "class": type(storages["imports"]).__name__ if "s3" not in entry["BACKEND"] else None,
}))
"""


def _show(**env: str) -> dict[str, object]:
    result = run_manage("shell", "--no-imports", "-c", SHOW, ENVIRONMENT="test", **env)
    assert result.returncode == 0, result.stderr
    shown: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return shown


def test_uploads_wait_in_a_local_folder_by_default() -> None:
    shown = _show(IMPORT_STORAGE_DIR="/srv/uploads")

    assert shown == {
        "backend": "django.core.files.storage.FileSystemStorage",
        "options": {"location": "/srv/uploads", "file_permissions_mode": "384"},
        "imported": False,
        "class": "FileSystemStorage",
    }


def test_a_bucket_configures_the_s3_backend_without_importing_it_at_start() -> None:
    shown = _show(
        IMPORT_S3_BUCKET="musicbud-imports",
        IMPORT_S3_ENDPOINT_URL="https://objects.example.org",
        IMPORT_S3_REGION="eu-central-1",
        IMPORT_S3_ACCESS_KEY_ID="key-id",
        IMPORT_S3_SECRET_ACCESS_KEY="secret",
    )

    assert shown == {
        "backend": "storages.backends.s3.S3Storage",
        "options": {
            "bucket_name": "musicbud-imports",
            "endpoint_url": "https://objects.example.org",
            "region_name": "eu-central-1",
            "access_key": "key-id",
            "secret_key": "secret",
            "location": "imports",
            "file_overwrite": "False",
            "default_acl": "private",
        },
        "imported": False,
        "class": None,
    }
