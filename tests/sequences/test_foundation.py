import pytest

from cursive import crypto
from cursive.errors import ValidationFailed
from leads.services import lead_create, suppressions_add
from sequences.models import Mailbox
from sequences.services import enrollments_create, mailbox_create, sequence_create
from sequences.transport import MailboxUnreachable

pytestmark = pytest.mark.django_db


def test_mailbox_password_is_encrypted_and_the_server_is_tried(tenant, mailbox):
    stored = Mailbox.objects.get(pk=mailbox.pk)
    assert "mail-secret-1" not in stored.smtp_password
    assert crypto.decrypt(stored.smtp_password) == "mail-secret-1"


def test_a_wrong_password_is_refused_naming_the_server(tenant, mailbox_data):
    with pytest.raises(MailboxUnreachable) as caught:
        mailbox_create(workspace=tenant.workspace, data={**mailbox_data, "smtp_password": "wrong"})
    assert "refused the user name or password" in caught.value.message
    assert caught.value.code == "mailbox_unreachable"
    assert not Mailbox.objects.exists()


def test_enrolment_skips_with_reasons(tenant, mailbox):
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={
            "name": "Intro",
            "mailbox_id": mailbox.pk,
            "steps": [{"type": "email", "subject": "Hi {{first_name}}", "body": "At {{company_name|your team}}"}],
        },
    )
    ok = lead_create(workspace=tenant.workspace, data={"email": "ok@x.test", "first_name": "Ann"}, source="manual")
    nameless = lead_create(workspace=tenant.workspace, data={"email": "nameless@x.test"}, source="manual")
    phone_only = lead_create(workspace=tenant.workspace, data={"phone": "+12125550100", "first_name": "P"}, source="manual")
    gone = lead_create(workspace=tenant.workspace, data={"email": "gone@x.test", "first_name": "G"}, source="manual")
    suppressions_add(workspace=tenant.workspace, emails=["GONE@x.test"], reason="manual")
    result = enrollments_create(
        workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[ok.pk, nameless.pk, phone_only.pk, gone.pk]
    )
    assert result.enrolled == 1
    reasons = {item["lead_id"]: item["reason"] for item in result.skipped}
    assert reasons == {nameless.pk: "missing_variable", phone_only.pk: "no_email", gone.pk: "suppressed"}
    again = enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[ok.pk])
    assert again.enrolled == 0 and again.skipped == [{"lead_id": ok.pk, "reason": "already_enrolled"}]


def test_unknown_template_variables_are_refused(tenant, mailbox):
    with pytest.raises(ValidationFailed, match="Unknown variable"):
        sequence_create(
            workspace=tenant.workspace,
            data={"name": "X", "mailbox_id": mailbox.pk, "steps": [{"type": "email", "subject": "{{nope}}", "body": "b"}]},
        )


def test_the_smtp_connection_obeys_the_private_network_rule(tenant, mailbox_data, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(MailboxUnreachable) as caught:
        mailbox_create(workspace=tenant.workspace, data=mailbox_data)
    assert "loopback" in caught.value.message and list(caught.value.fields) == ["smtp_host"]
    assert not Mailbox.objects.exists()


def test_a_cloud_metadata_address_is_refused_even_where_private_networks_are_allowed(tenant, mailbox_data, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    with pytest.raises(MailboxUnreachable, match="metadata"):
        mailbox_create(workspace=tenant.workspace, data={**mailbox_data, "smtp_host": "169.254.169.254"})


def test_an_unreachable_smtp_server_is_named(tenant, mailbox_data):
    from tests.servers import free_port

    with pytest.raises(MailboxUnreachable) as caught:
        mailbox_create(workspace=tenant.workspace, data={**mailbox_data, "smtp_port": free_port()})
    assert "Could not connect to the SMTP server 127.0.0.1:" in caught.value.message
    assert "connection refused" in caught.value.message


@pytest.mark.django_db(transaction=True)
def test_two_people_editing_two_steps_at_once_both_keep_their_change(tenant, mailbox):
    import threading

    from django.db import connection

    from sequences.services import sequence_steps_edit

    sequence = sequence_create(
        workspace=tenant.workspace,
        data={
            "name": "Two tabs",
            "mailbox_id": mailbox.pk,
            "steps": [{"type": "email", "subject": "One", "body": "1"}, {"type": "email", "subject": "Two", "body": "2"}],
        },
    )
    first_holds_the_lock = threading.Event()

    def retitle(position: int, subject: str, *, hold: bool):
        def edit(steps):
            if hold:
                first_holds_the_lock.set()
                threading.Event().wait(0.5)  # the second edit arrives meanwhile and must wait, then read this one
            steps[position] = {**steps[position], "subject": subject}
            return steps

        try:
            sequence_steps_edit(workspace=tenant.workspace, sequence_id=sequence.pk, edit=edit)
        finally:
            connection.close()

    first = threading.Thread(target=retitle, args=(0, "One, edited"), kwargs={"hold": True})
    first.start()
    first_holds_the_lock.wait(10)
    second = threading.Thread(target=retitle, args=(1, "Two, edited"), kwargs={"hold": False})
    second.start()
    first.join(10)
    second.join(10)
    assert list(sequence.steps.order_by("position").values_list("subject", flat=True)) == ["One, edited", "Two, edited"]
