"""The text every installation starts with for its legal pages (staff edit them in admin afterwards)."""

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

# Raw HTML in a page is shown as text and links to javascript: and the like are not made links (markdown-it's
# defaults), so what staff type can never run a script on a public page.
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str) -> SafeString:
    return mark_safe(_markdown.render(text))  # noqa: S308 - markdown-it escapes raw HTML (html=False above)


TERMS = """\
These terms govern your use of Cursive, the lead-generation service run by the operator of this site
("we"). By creating an account you agree to them.

## Your account
You are responsible for the people you invite to your workspace and for keeping your password and API keys
secret. Tell us at once if you believe your account has been used without your permission.

## Credits
Credits are bought in packages and spent on leads, segment pulls and enrichment. The prices of packages and
of what credits buy are shown on the Pricing page. Credits never expire and cannot be exchanged for money,
except as our Refund policy says.

## Acceptable use
Use the leads you get from Cursive only to contact people about your business, in line with the laws that
apply to you and to them, including anti-spam and data-protection laws. Honour every request to stop
contacting someone, and never resell leads bought on Cursive.

## Partners
Partners who upload leads confirm that they collected them lawfully and may share them for this purpose.
We may refuse, delist or remove any lead.

## Availability and liability
We work to keep Cursive available and correct, but provide it "as is". To the extent the law allows, our
liability is limited to the amount you paid us in the twelve months before a claim.

## Changes
We may change these terms; the date of the latest change is shown on this page. Continuing to use Cursive
after a change means you accept it.
"""

PRIVACY = """\
This policy explains what Cursive collects, why, and the choices you have.

## Customers
We keep the details you give us when you sign up (your name, email address, company) and what you do in
your workspace, to run the service, bill you and help you. Payments are handled by our payment provider;
we never see your full card number.

## People in the lead database
Cursive's lead database holds business contact details (name, job title, company, work email and phone)
from partners and public business sources, which customers use to reach people about their business.
You can ask for a copy of what we hold about you, or to be removed for good, on the opt-out page linked
at the bottom of every page. Once removed you are kept only as a one-way hash so that you are never
imported, listed or emailed through Cursive again.

## Website visitors
Our public pages set one first-party cookie that remembers which version of the home page you saw, so
that we can tell which one explains Cursive best. It holds a random identifier, nothing else, and is never
shared. We use no third-party scripts or trackers.

## Keeping data safe
Data travels encrypted, access is limited to the staff who need it, and every staff change is recorded.

## Contact
Write to us through the Services page for any question about your data.
"""

REFUND = """\
## Unused credits
Credits never expire. If you bought a package by mistake and have not spent any of it, contact us through
the Services page and we will refund it.

## Bounced emails
When an email address you bought, pulled or enriched through Cursive hard-bounces within the refund window
shown on the Pricing page, the credits you spent on it are returned to your balance automatically.

## Removed leads
If a person you bought recently asks to be removed from Cursive, the lead is removed from your workspace
and its credits are returned.

## Everything else
Credits that have been spent are not refunded. If something went wrong, contact us through the Services
page and we will look at it with you.
"""

DEFAULT_PAGES = {
    "terms": ("Terms of service", TERMS),
    "privacy-policy": ("Privacy policy", PRIVACY),
    "refund-policy": ("Refund policy", REFUND),
}


def ensure_default_pages(page_model) -> None:
    """Create the legal pages that are missing; works with the real or a migration's historical model."""
    for slug, (title, body) in DEFAULT_PAGES.items():
        page_model.objects.get_or_create(slug=slug, defaults={"title": title, "body": body})
