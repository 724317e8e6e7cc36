import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.services import user_create
from visitors.models import IpRange

pytestmark = pytest.mark.django_db

URL = "/admin/visitors/iprange/import/"


@pytest.fixture
def staff(client):
    user = user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True)
    user.is_superuser = True
    user.save(update_fields=["is_superuser"])
    client.force_login(user)
    return client


def upload(client, text: str | bytes, name="ranges.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(URL, {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def test_staff_import_ranges_and_a_second_import_replaces_by_network(staff):
    assert b"Import CSV" in staff.get("/admin/visitors/iprange/").content
    response = upload(
        staff,
        "\ufeffCIDR,Company,Domain,Kind\n203.0.113.0/24,Initech,Initech.example,\n198.51.100.7/24,Comcast,,isp\n2001:db8::/32,Hooli,hooli.example,company\n",
    )
    assert response.status_code == 302
    assert IpRange.objects.count() == 3
    assert IpRange.objects.get(company_name="Comcast").network == "198.51.100.0/24", "host bits are dropped"
    assert IpRange.objects.get(company_name="Initech").company_domain == "initech.example"

    upload(staff, "network,company_name,company_domain,kind\n203.0.113.0/24,Initech Corp,initech.example,company\n")
    assert IpRange.objects.count() == 3
    assert IpRange.objects.get(network="203.0.113.0/24").company_name == "Initech Corp"


def test_a_file_with_a_bad_line_imports_nothing_and_names_the_lines(staff):
    response = upload(
        staff, "network,company_name,kind\n203.0.113.0/24,Initech,\n10.0.0.0/33,Broken,\n192.0.2.0/24,,\n192.0.2.0/24,X,telco\n"
    )
    text = response.content.decode()
    assert response.status_code == 200 and "Nothing was imported" in text
    assert "Line 3" in text and "Line 4" in text and "Line 5" in text and "Line 2" not in text
    assert not IpRange.objects.exists()


@pytest.mark.parametrize(
    "content,message",
    [
        ("company,domain\nInitech,initech.example\n", "missing: network"),
        ("network,company_name\n", "no ranges"),
        (b"network,company_name\n203.0.113.0/24,Soci\xe9t\xe9\n", "not UTF-8"),
    ],
)
def test_unusable_files_are_form_errors(staff, content, message):
    response = upload(staff, content)
    assert response.status_code == 200 and message in response.content.decode()
    assert not IpRange.objects.exists()


def test_only_staff_reach_the_import(client, tenant):
    tenant.browser_client(client)
    assert client.get(URL).status_code == 302
    assert upload(client, "network,company_name\n203.0.113.0/24,Initech\n").status_code == 302
    assert not IpRange.objects.exists()
