"""The leads invariants: the tallies the triggers keep (leads/migrations/0012) match the leads they count."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

# Both sides as full outer joins, so a workspace or tag missing on either side is a finding too.
_LEAD_TALLIES = """
SELECT coalesce(t.workspace_id, l.workspace_id), coalesce(t.leads, 0), coalesce(l.leads, 0)
FROM leads_leadtally t
FULL JOIN (SELECT workspace_id, count(*) AS leads FROM leads_lead GROUP BY 1) l ON l.workspace_id = t.workspace_id
WHERE coalesce(t.leads, 0) <> coalesce(l.leads, 0)
ORDER BY 1 LIMIT 1000
"""
_TAG_TALLIES = """
SELECT coalesce(t.workspace_id, l.workspace_id), coalesce(t.tag, l.tag), coalesce(t.leads, 0), coalesce(l.leads, 0)
FROM leads_leadtagtally t
FULL JOIN (SELECT workspace_id, tag, count(*) AS leads FROM leads_lead, unnest(tags) AS tag GROUP BY 1, 2) l
    ON l.workspace_id = t.workspace_id AND l.tag = t.tag
WHERE coalesce(t.leads, 0) <> coalesce(l.leads, 0)
ORDER BY 1, 2 LIMIT 1000
"""


def lead_tallies_match() -> Iterable[str]:
    with connection.cursor() as cursor:
        cursor.execute(_LEAD_TALLIES)
        mismatches = cursor.fetchall()
    for workspace_id, tallied, counted in mismatches:
        yield f"Workspace {workspace_id} has {counted} leads but its tally says {tallied}."


def tag_tallies_match() -> Iterable[str]:
    with connection.cursor() as cursor:
        cursor.execute(_TAG_TALLIES)
        mismatches = cursor.fetchall()
    for workspace_id, tag, tallied, counted in mismatches:
        yield f"Workspace {workspace_id} has {counted} leads tagged #{tag} but its tally says {tallied}."


CHECKS = {
    "lead tallies match the leads": lead_tallies_match,
    "tag tallies match the leads": tag_tallies_match,
}
