from django.db import transaction

from cursive.errors import PermissionDenied
from cursive.models import AuditEvent


def audit_record(*, actor, action: str, target: str, workspace=None, reason: str = "", **data) -> AuditEvent:
    """Write the audit row inside the caller's transaction, so it exists exactly when the change does."""
    return AuditEvent.objects.create(actor=actor, action=action, target=target, workspace=workspace, reason=reason, data=data)


@transaction.atomic
def reviewed_flags_clear(*, queryset, actor, action: str) -> int:
    """Staff dealt with what flagged rows asked for (a refund in Stripe, say): clear each row's `needs_review`,
    keep its `review_note`, write an audit row each. For models with those fields, `reference` and `workspace`."""
    if not actor.is_staff:
        raise PermissionDenied("Only staff can review purchases.")
    rows = list(queryset.select_related("workspace").select_for_update(of=("self",)).filter(needs_review=True).order_by("pk"))
    for row in rows:
        row.needs_review = False
        row.save(update_fields=["needs_review"])
        audit_record(actor=actor, action=action, target=row.reference, workspace=row.workspace, reason=row.review_note)
    return len(rows)
