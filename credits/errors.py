from decimal import Decimal

from cursive.errors import ApplicationError, PaymentRequired


class PaymentProviderUnavailable(ApplicationError):
    status_code = 503
    code = "payment_provider_unavailable"
    default_message = "The card payment provider did not answer; nothing was charged or reserved. Try again shortly."


class InsufficientCredits(PaymentRequired):
    """Not enough credits; says how many are missing so the person knows what to buy."""

    def __init__(self, *, needed: Decimal, balance: Decimal):
        self.needed = needed
        self.balance = balance
        self.missing = needed - balance
        super().__init__(
            f"This needs {needed:,.2f} credits and the balance is {balance:,.2f}: buy at least {self.missing:,.2f} more credits.",
            extra={"missing": f"{self.missing:.2f}", "needed": f"{needed:.2f}", "balance": f"{balance:.2f}"},
        )
