"""STORAGE_URL chooses where files go, and cursive.files.StoredFile reads them back as streams, from MEDIA_ROOT or
from an S3-compatible bucket (moto)."""

import json
import subprocess
import sys

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from cursive.files import StoredFile
from cursive.storage_url import s3_options
from leads.csv_import import count_lines, detect_format, read_rows
from tests.servers import REPO


def test_storage_url_names_the_bucket_prefix_endpoint_region_and_keys():
    assert s3_options("s3://AKIA%2FX:s%40cret@cursive-files/prod/eu?endpoint_url=http://minio:9000&region=eu-west-1") == {
        "bucket_name": "cursive-files",
        "location": "prod/eu",
        "access_key": "AKIA/X",
        "secret_key": "s@cret",
        "endpoint_url": "http://minio:9000",
        "region_name": "eu-west-1",
    }
    assert s3_options("s3://Files?addressing_style=path") == {"bucket_name": "Files", "addressing_style": "path"}


@pytest.mark.parametrize(
    ("url", "words"),
    [("file:///var/media", "must start with s3://"), ("s3:///prefix", "names no bucket"), ("s3://b?colour=red", "colour")],
)
def test_a_storage_url_that_is_not_understood_is_refused(url, words):
    with pytest.raises(ValueError, match=words):
        s3_options(url)


def _default_storage_of(**environment) -> dict:
    script = (
        "import json, django; django.setup(); from django.conf import settings; print(json.dumps(settings.STORAGES['default']))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "cursive.settings", "PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://x@127.0.0.1/x"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env={**env, **environment}, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_the_settings_use_s3_when_a_bucket_is_named_and_the_disk_otherwise():
    assert _default_storage_of()["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    by_url = _default_storage_of(STORAGE_URL="s3://cursive-files/prod?endpoint_url=http://minio:9000")
    assert by_url == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": "cursive-files", "location": "prod", "endpoint_url": "http://minio:9000"},
    }
    by_bucket = _default_storage_of(AWS_STORAGE_BUCKET_NAME="cursive-files")
    assert by_bucket == {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {}}


CSV = "email,name\n" + "".join(f"p{i}@x.example,Person {i}\n" for i in range(20_000))


def _read_in_passes(stored: StoredFile) -> None:
    fmt = detect_format(stored)
    assert fmt.header == ["email", "name"] and fmt.encoding == "utf-8"
    assert count_lines(stored) == 20_001
    rows = list(read_rows(stored, fmt, {"email": "email"}))
    assert len(rows) == 20_000 and rows[-1].values == {"email": "p19999@x.example"}


def test_a_file_on_the_disk_is_read_in_passes(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    _read_in_passes(StoredFile(default_storage, default_storage.save("lists/a.csv", ContentFile(CSV.encode()))))


def test_a_file_in_the_bucket_is_streamed_in_passes_and_a_missing_one_is_file_not_found(s3_storage):
    name = default_storage.save("lists/a.csv", ContentFile(CSV.encode()))
    assert s3_storage.keys("lists/") == [name]
    stored = StoredFile(default_storage, name)
    _read_in_passes(stored)
    with stored.open("rb") as stream:
        assert stream.read(6) == b"email,"
    with pytest.raises(FileNotFoundError):
        StoredFile(default_storage, "lists/gone.csv").open("rb")
    with pytest.raises(ValueError, match="reading only"):
        stored.open("wb")
