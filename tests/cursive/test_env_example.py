import re

from tests.servers import REPO


def test_env_example_documents_every_setting_read_from_the_environment():
    settings_source = (REPO / "cursive" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\("([A-Z_]+)"', settings_source))
    documented = set(re.findall(r"^([A-Z_]+)=", (REPO / ".env.example").read_text(), re.M))
    assert read - documented == set()
