from tests.credits.conftest import pending_purchase  # noqa: F401 - the same pending credit purchase fixture
