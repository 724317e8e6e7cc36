"""Reading an uploaded CSV from storage as a worker does (format check, line count, every row: three passes), from
the local disk, streamed from an S3-compatible bucket (cursive.files.StoredFile), and through django-storages' own
S3File (which downloads the whole object into a spooled temporary file on open), each in a fresh process: seconds
and peak memory (ru_maxrss) above an idle process's (for S3, one that made a connection to the bucket). The bucket
is a moto server started here; no network.

    .venv/bin/python bench/storage.py [--rows 1000000]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
BUCKET = "cursive-bench"
KEY = "uploads/bench.csv"
METHODS = ("idle", "disk", "idle_s3", "s3_stream", "s3_s3file")


def _child(method: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "cursive.settings"
    import django

    django.setup()
    from django.core.files.storage import default_storage

    from cursive.files import StoredFile
    from leads.csv_import import count_lines, detect_format, read_rows

    class ThroughS3File(StoredFile):
        def open(self, mode="rb"):
            return self.storage.open(self.name, mode)

    source = {"disk": StoredFile, "s3_stream": StoredFile, "s3_s3file": ThroughS3File}.get(method)
    started = time.perf_counter()
    rows = 0
    if method == "idle_s3":  # boto3 loaded and a connection made, nothing read: what S3 costs before any file
        default_storage.exists(KEY)
    if source is not None:
        stored = source(default_storage, KEY)
        fmt = detect_format(stored)
        count_lines(stored)
        for _ in read_rows(stored, fmt, {"email": "email", "first_name": "first_name"}):
            rows += 1
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {"rows": rows, "seconds": round(seconds, 2), "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        )
    )


def _write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first_name", "last_name", "email", "phone", "title", "company_name", "city"])
        for i in range(rows):
            writer.writerow(
                [f"Ann{i}", "Lee", f"ann{i}@company{i}.example", f"+1415555{i % 10000:04d}", "VP Sales", f"Company {i}", "Austin"]
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", choices=METHODS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return

    import boto3

    sys.path.insert(0, str(ROOT))
    from tests.servers import free_port

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
        )
        for _ in range(100):
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as scratch:
            media = Path(scratch) / "media"
            (media / "uploads").mkdir(parents=True)
            path = media / KEY
            _write_csv(path, args.rows)
            started = time.perf_counter()
            client.upload_file(str(path), BUCKET, KEY)
            upload_seconds = time.perf_counter() - started
            storage_url = f"s3://k:s@{BUCKET}?endpoint_url={endpoint}&region=us-east-1&addressing_style=path"
            results = {}
            for method in METHODS:
                env = {
                    **os.environ,
                    "MEDIA_ROOT": str(media),
                    "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://x@127.0.0.1/x"),
                }
                if "s3" in method:
                    env["STORAGE_URL"] = storage_url
                out = subprocess.run(
                    [sys.executable, str(HERE), "--child", method], env=env, capture_output=True, text=True, check=True
                )
                results[method] = json.loads(out.stdout.strip().splitlines()[-1])
            idle = results.pop("idle")["max_rss_mb"]
            idle_s3 = results.pop("idle_s3")["max_rss_mb"]
            for method, figures in results.items():
                figures["peak_mb_above_idle"] = round(
                    figures.pop("max_rss_mb") - (idle_s3 if method.startswith("s3") else idle), 1
                )
            print(
                json.dumps(
                    {
                        "rows": args.rows,
                        "file_mb": round(path.stat().st_size / 1_048_576, 1),
                        "put_to_bucket_seconds": round(upload_seconds, 2),
                        "passes": "detect_format + count_lines + read_rows",
                        "idle_process_mb": round(idle, 1),
                        "idle_process_with_s3_client_mb": round(idle_s3, 1),
                        **results,
                        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
                    }
                )
            )
    finally:
        moto.terminate()
        moto.wait(timeout=10)


if __name__ == "__main__":
    main()
