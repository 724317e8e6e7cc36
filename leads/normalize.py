"""Contact-detail normalisation: the one place that decides what an email or
phone number is, used by leads, the lead database, uploads and the pixel."""

from __future__ import annotations

import hashlib
import re

import phonenumbers

# RFC 5322 is far looser than what mail servers accept; this is the shape
# deliverable addresses have: a dot-atom local part and a dotted domain with
# an alphabetic TLD.
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_LINKEDIN_RE = re.compile(r"^https?://([a-z]{2,3}\.)?linkedin\.com/(in|pub|company)/[^/\s?#]+/?(\?.*)?$", re.I)
_SPACE_RE = re.compile(r"\s+")

DEFAULT_REGION = "US"


def clean_text(value) -> str:
    """Trim and fold inner whitespace; None and NaN-like blanks become ''."""
    if value is None:
        return ""
    text = str(value)
    return _SPACE_RE.sub(" ", text).strip()


def normalize_email(value) -> str:
    return clean_text(value).lower()


def is_valid_email(value) -> bool:
    email = clean_text(value)
    return len(email) <= 254 and bool(_EMAIL_RE.match(email))


def email_domain(value) -> str:
    email = normalize_email(value)
    return email.rsplit("@", 1)[1] if "@" in email else ""


def normalize_phone(value, region: str = DEFAULT_REGION) -> str | None:
    """E.164 form of a phone number, '' for a blank one, None when it is not a valid number."""
    text = clean_text(value)
    if not text:
        return ""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_digits(value) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def is_valid_linkedin_url(value) -> bool:
    return bool(_LINKEDIN_RE.match(clean_text(value)))


# The profile part of a LinkedIn URL ("in/jane-doe"), whatever the scheme, subdomain, query or trailing slash.
_LINKEDIN_KEY_RE = re.compile(r"^(?:https?://)?(?:[a-z0-9-]+\.)*linkedin\.com/(in|pub)/([^/?#\s]+)", re.I)
# The same rule in SQL, for the expression index of leads.Person that finds people by it.
LINKEDIN_KEY_PATTERN = r"^(https?://)?([a-z0-9-]+\.)*linkedin\.com/(in|pub)/([^/?#[:space:]]+).*$"


def linkedin_key(value) -> str:
    """What identifies a LinkedIn profile URL: "in/<name>" in lowercase; '' for anything else."""
    match = _LINKEDIN_KEY_RE.match(clean_text(value))
    return f"{match.group(1)}/{match.group(2)}".lower() if match else ""


def dedup_hash(email, phone) -> str:
    """The identity of a person across every source: the lowercased email, or the phone digits when there is
    no email. Not both: the same email with another phone, or none, is still the same person, and must not
    be listed, sold or pulled twice. (leads.migrations.0006 holds the same rule in SQL.)"""
    email = normalize_email(email)
    key = f"email:{email}" if email else f"phone:{phone_digits(phone)}"
    return hashlib.sha256(key.encode()).hexdigest()


def suppression_hash(email) -> str:
    """The suppression key of an address: its dedup hash, so an erased person's entry also matches the people
    and listings that carry that address."""
    return dedup_hash(email, "")


def mask_email(value) -> str:
    email = normalize_email(value)
    if "@" not in email:
        return ""
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_phone(value) -> str:
    digits = phone_digits(value)
    if not digits:
        return ""
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


# Throwaway-inbox providers: an address there reaches nobody a week later.
DISPOSABLE_DOMAINS = frozenset(
    {
        "mailinator.com",
        "guerrillamail.com",
        "guerrillamail.net",
        "guerrillamailblock.com",
        "sharklasers.com",
        "grr.la",
        "10minutemail.com",
        "10minutemail.net",
        "tempmail.com",
        "temp-mail.org",
        "tempmail.net",
        "tempmailo.com",
        "tempr.email",
        "throwawaymail.com",
        "yopmail.com",
        "yopmail.net",
        "yopmail.fr",
        "trashmail.com",
        "trashmail.net",
        "trashmail.de",
        "getnada.com",
        "nada.email",
        "dispostable.com",
        "maildrop.cc",
        "mailnesia.com",
        "mintemail.com",
        "mohmal.com",
        "mytemp.email",
        "emailondeck.com",
        "fakeinbox.com",
        "spamgourmet.com",
        "spambox.us",
        "spam4.me",
        "discard.email",
        "discardmail.com",
        "burnermail.io",
        "inboxkitten.com",
        "mailcatch.com",
        "moakt.com",
        "tempinbox.com",
        "tmpmail.org",
        "tmpmail.net",
        "getairmail.com",
        "fakemail.net",
        "emailfake.com",
        "crazymailing.com",
        "mailpoof.com",
    }
)


def is_disposable_email(value) -> bool:
    return email_domain(value) in DISPOSABLE_DOMAINS
