"""leads 0016: the workspace columns of leads and tag tallies are indexed only as the first column of their other
indexes, and keep their foreign keys."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("table", ["leads_lead", "leads_leadtagtally"])
def test_no_index_of_the_workspace_alone_and_the_foreign_key_stays(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table])
        definitions = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'"
            " AND confrelid = 'accounts_workspace'::regclass",
            [table],
        )
        foreign_keys = cursor.fetchone()[0]
    assert not [d for d in definitions if d.endswith("(workspace_id)")]
    assert [d for d in definitions if "(workspace_id, " in d]
    assert foreign_keys == 1
