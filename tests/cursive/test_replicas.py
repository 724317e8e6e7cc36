"""Reads against a real streaming replica of the test server (tests/standby.py). With replay paused the replica's
answers are frozen, so a stale answer proves a read went to it, and a fresh one that it did not."""

import copy
import csv
import io
import logging
import time
from contextlib import suppress

import pytest
from django.db import connections, transaction
from django.test import Client

from accounts.models import Workspace
from cursive import replicas
from cursive.replicas import replica_alias, replica_reads
from leads.models import Lead, Person
from leads.services import lead_create
from tests.marketplace.conftest import fund, make_listing
from tests.segments.conftest import make_person
from tests.standby import Standby

ALIAS = "replica1"
# The replica's alias exists while this module runs (the `standby` fixture); naming it here lets its tests use it.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, databases=["default", ALIAS])]


@pytest.fixture(scope="module")
def standby(django_db_setup, django_db_blocker):
    primary = connections["default"].settings_dict
    if (primary["HOST"] or "127.0.0.1") not in ("127.0.0.1", "localhost"):
        pytest.skip("the replica is made with pg_basebackup from a server on this machine")
    with django_db_blocker.unblock():
        server = Standby(
            primary_host="127.0.0.1", primary_port=int(primary["PORT"]), user=primary["USER"], dbname=primary["NAME"]
        )
    # A mirror of the test database: the test run never creates nor flushes a database through it.
    settings_dict = copy.deepcopy(primary)
    connections.settings[ALIAS] = {**settings_dict, "PORT": server.port, "TEST": {**settings_dict["TEST"], "MIRROR": "default"}}
    connections.configure_settings(connections.settings)
    yield server
    with suppress(AttributeError):
        connections[ALIAS].close()
        del connections[ALIAS]
    del connections.settings[ALIAS]
    server.destroy()


@pytest.fixture
def replica(standby, settings):
    """The standby as the project's one replica, checked afresh on every read (no status kept between reads)."""
    settings.DATABASE_REPLICAS = [ALIAS]
    settings.REPLICA_STATUS_SECONDS = 0
    replicas.forget_statuses()
    yield standby
    if standby.running():
        standby.resume()
    else:
        standby.start()
    connections[ALIAS].close()
    replicas.forget_statuses()


def search_count(client, query="industry=SaaS") -> int:
    page = client.get(f"/search/?{query}").content.decode()
    return int(page.split('data-testid="search-count">', 1)[1].split("<", 1)[0].replace(",", ""))


def browser(tenant) -> Client:
    client = Client()
    client.force_login(tenant.user)
    return client


def test_lead_search_reads_the_replica_and_a_workspace_that_wrote_reads_its_write(replica, tenant_factory):
    writer, reader = tenant_factory("Writer"), tenant_factory("Reader")
    make_person(industry="SaaS")
    make_person(industry="SaaS")
    replica.pause()
    make_person(industry="SaaS")  # on the primary only, while the replica stands still

    assert Person.objects.filter(industry="SaaS").count() == 3
    assert search_count(browser(reader)) == 2, "the replica's (stale) count"

    writer_client = browser(writer)
    response = writer_client.post("/search/save/", {"name": "SaaS", "filters": '{"industry": ["SaaS"]}'})
    assert response.status_code == 302
    assert search_count(writer_client) == 3, "a workspace that just wrote reads the primary"
    assert search_count(browser(reader)) == 2

    # Once the replica has replayed the write, it serves the writer again, even inside the sticky window.
    replica.resume()
    replica.catch_up()
    assert replica_alias(workspace=writer.workspace) == ALIAS
    assert search_count(writer_client) == 3


def test_replica_lag_never_hides_a_purchase_from_its_buyer(replica, tenant_factory):
    partner = tenant_factory("LeadForge", kind=Workspace.Kind.PARTNER)
    buyer, other = tenant_factory("Buyer Co"), tenant_factory("Other Co")
    fund(buyer.workspace, 100)
    listing = make_listing(partner=partner.workspace, price="7.00", email="dana@bought.example")
    replica.pause()

    response = buyer.api().post("/api/v1/marketplace/purchases", {"lead_ids": [listing.pk]}, format="json")
    assert response.status_code == 201, response.content
    purchase_id = response.json()["id"]

    api = buyer.api()
    assert listing.pk not in [row["id"] for row in api.get("/api/v1/marketplace/leads").json()["results"]]
    assert [row["id"] for row in api.get("/api/v1/marketplace/purchases").json()["results"]] == [purchase_id]
    assert "dana@bought.example" in [row["email"] for row in api.get("/api/v1/leads").json()["results"]]
    assert "dana@bought.example" in b"".join(api.get("/api/v1/leads/export").streaming_content).decode()
    download = api.get(f"/api/v1/marketplace/purchases/{purchase_id}/download")
    assert "dana@bought.example" in b"".join(download.streaming_content).decode()
    assert api.get("/api/v1/analytics/summary").json()["credits_spent"] == "7.00"
    page = browser(buyer).get("/marketplace/").content.decode()
    assert f'data-listing-id="{listing.pk}"' not in page
    assert f'data-listing-id="{listing.pk}"' in browser(other).get("/marketplace/").content.decode()

    # Another workspace browses the replica, which has not seen the sale yet; its analytics come from there too.
    assert listing.pk in [row["id"] for row in other.api().get("/api/v1/marketplace/leads").json()["results"]]
    assert other.api().get("/api/v1/analytics/summary").json()["credits_spent"] == "0.00"
    assert browser(other).get("/analytics/").status_code == 200


def test_an_export_streams_from_the_replica(replica, tenant):
    lead_create(workspace=tenant.workspace, data={"email": "first@acme.test"}, source=Lead.Source.MANUAL)
    replica.pause()
    lead_create(workspace=tenant.workspace, data={"email": "second@acme.test"}, source=Lead.Source.MANUAL)

    def exported() -> list[str]:
        body = b"".join(tenant.api().get("/api/v1/leads/export").streaming_content).decode()
        return [row["email"] for row in csv.DictReader(io.StringIO(body))]

    assert exported() == ["first@acme.test"]
    replica.resume()
    replica.catch_up()
    assert sorted(exported()) == ["first@acme.test", "second@acme.test"]


def test_reads_inside_a_transaction_stay_on_the_primary(replica, tenant):
    make_person(industry="SaaS")
    replica.pause()
    make_person(industry="SaaS")
    with replica_reads(workspace=tenant.workspace):
        assert Person.objects.count() == 1
        with transaction.atomic():
            assert Person.objects.count() == 2


def test_a_replica_too_far_behind_is_skipped(replica, tenant, settings, caplog):
    settings.REPLICA_MAX_LAG_SECONDS = 0.2
    make_person(industry="SaaS")
    replica.pause()
    make_person(industry="SaaS")
    with replica_reads(workspace=tenant.workspace):
        assert Person.objects.count() == 1, "within the bound, the replica serves"
    time.sleep(0.3)
    with caplog.at_level(logging.WARNING, logger="cursive.replicas"), replica_reads(workspace=tenant.workspace):
        assert Person.objects.count() == 2
    assert "behind" in caplog.text


def test_a_stopped_replica_falls_back_to_the_primary(replica, tenant, caplog):
    make_person(industry="SaaS")
    replica.catch_up()
    replica.stop()
    make_person(industry="SaaS")
    with caplog.at_level(logging.WARNING, logger="cursive.replicas"):
        assert search_count(browser(tenant)) == 2
        assert replica_alias(workspace=tenant.workspace) == "default"
    assert "unreachable" in caplog.text
