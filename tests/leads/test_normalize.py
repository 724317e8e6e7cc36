import pytest

from leads import normalize


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("(415) 555-2671", "+14155552671"),
        ("+1 415 555 2671", "+14155552671"),
        ("", ""),
        ("123", None),
        ("+44 20 7946 0958", "+442079460958"),
        ("not a phone", None),
    ],
)
def test_normalize_phone(raw, expected):
    assert normalize.normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw,valid",
    [
        ("jane@acme.com", True),
        ("jane.doe+sales@sub.acme.co.uk", True),
        ("jane@acme", False),
        ("@acme.com", False),
        ("jane@@acme.com", False),
        ("jane doe@acme.com", False),
        ("", False),
        ("jane..doe@acme.com", False),
        ("a" * 250 + "@acme.com", False),
    ],
)
def test_email_syntax(raw, valid):
    assert normalize.is_valid_email(raw) is valid


def test_dedup_hash_ignores_case_and_phone_formatting():
    assert normalize.dedup_hash("Jane@Acme.com ", "(415) 555-2671") == normalize.dedup_hash("jane@acme.com", "4155552671")
    assert normalize.dedup_hash("jane@acme.com", "") != normalize.dedup_hash("john@acme.com", "")


def test_masks():
    assert normalize.mask_email("John@Acme.com") == "j***@acme.com"
    assert normalize.mask_phone("+14155552671") == "*********71"


@pytest.mark.parametrize(
    "url,valid",
    [
        ("https://www.linkedin.com/in/jane-doe", True),
        ("http://linkedin.com/in/jane/", True),
        ("https://linkedin.com/company/acme", True),
        ("https://evil.com/in/jane", False),
        ("linkedin", False),
    ],
)
def test_linkedin_shape(url, valid):
    assert normalize.is_valid_linkedin_url(url) is valid
