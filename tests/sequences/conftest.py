import pytest

from sequences.services import mailbox_create
from tests.mailservers import DOVECOT, DOVECOT_MISSING, imap_server, smtp_server


@pytest.fixture
def smtp():
    controller, sink = smtp_server()
    yield sink
    controller.stop()


@pytest.fixture
def mailbox_data(smtp):
    return {
        "email": smtp.username,
        "from_name": "Sam Sender",
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_username": smtp.username,
        "smtp_password": smtp.password,
        "smtp_security": "none",
        "daily_limit": 500,
        "hourly_limit": 100,
        "min_gap_seconds": 0,
        "warmup": False,
    }


@pytest.fixture
def mailbox(tenant, mailbox_data):
    return mailbox_create(workspace=tenant.workspace, data=mailbox_data)


@pytest.fixture
def imap():
    """A real IMAP server (dovecot); tests that need it are skipped, saying why, where dovecot is missing."""
    if DOVECOT is None:
        pytest.skip(DOVECOT_MISSING)
    server = imap_server()
    yield server
    server.stop()
