from cursive.models import AuditEvent


def audit_record(*, actor, action: str, target: str, workspace=None, reason: str = "", **data) -> AuditEvent:
    """Write the audit row inside the caller's transaction, so it exists exactly when the change does."""
    return AuditEvent.objects.create(actor=actor, action=action, target=target, workspace=workspace,
                                     reason=reason, data=data)
