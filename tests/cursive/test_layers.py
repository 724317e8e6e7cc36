import tomllib
from pathlib import Path

from django.apps import apps
from django.conf import settings

from tests.servers import REPO


def _importlinter() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]


def _project_apps() -> set[str]:
    return {config.name for config in apps.get_app_configs() if Path(config.path).parent == settings.BASE_DIR}


def _layered_modules(contract: dict) -> set[str]:
    names = set()
    for layer in contract["layers"]:
        for name in layer.strip("()").replace(":", "|").split("|"):
            names.add(name.strip())
    return names


def test_every_project_app_is_checked_by_the_layers_contract():
    """An app left out of root_packages is invisible to lint-imports: its imports would break the order unseen."""
    config = _importlinter()
    project_apps = _project_apps()
    assert project_apps - set(config["root_packages"]) == set()
    layers = next(contract for contract in config["contracts"] if contract["type"] == "layers")
    assert project_apps - _layered_modules(layers) == set()
