"""STORAGE_URL: where Cursive keeps files, as one setting.

    s3://[ACCESS_KEY:SECRET_KEY@]BUCKET[/PREFIX][?endpoint_url=...&region=...&addressing_style=path|virtual]

names an S3-compatible bucket (AWS, MinIO, Ceph, R2, ...); the result is the OPTIONS of django-storages'
S3Storage. Keys and secrets are URL-encoded; left out, boto3 finds credentials its usual way (AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY, an instance role). Imported by the settings, so it imports nothing from Django.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

# Query parameter -> S3Storage option.
_QUERY_OPTIONS = {
    "endpoint_url": "endpoint_url",
    "region": "region_name",
    "region_name": "region_name",
    "addressing_style": "addressing_style",
    "custom_domain": "custom_domain",
    "signature_version": "signature_version",
}


def s3_options(url: str) -> dict:
    """S3Storage OPTIONS from an s3:// URL; ValueError saying what is wrong with any other."""
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise ValueError(f"STORAGE_URL must start with s3:// (got {parts.scheme or 'no scheme'}).")
    if not parts.hostname:
        raise ValueError("STORAGE_URL names no bucket: use s3://BUCKET[/PREFIX]?endpoint_url=...")
    # hostname is lower-cased by urlsplit; bucket names are lower case anyway, but keep what was written.
    bucket = parts.netloc.rpartition("@")[2]
    options: dict = {"bucket_name": bucket}
    if parts.username:
        options["access_key"] = unquote(parts.username)
        options["secret_key"] = unquote(parts.password or "")
    if parts.path.strip("/"):
        options["location"] = parts.path.strip("/")
    for key, values in parse_qs(parts.query).items():
        if key not in _QUERY_OPTIONS:
            raise ValueError(f"STORAGE_URL has an unknown parameter {key!r}; known: {', '.join(sorted(_QUERY_OPTIONS))}.")
        options[_QUERY_OPTIONS[key]] = values[-1]
    return options
