# The payments app handles what credits and marketplace sell: their fixtures, as they define them.
from tests.credits.conftest import pending_purchase  # noqa: F401
from tests.marketplace.conftest import buyer, partner  # noqa: F401
