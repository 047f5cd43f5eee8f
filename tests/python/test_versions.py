"""The CPython versions the READMEs claim are the ones `make test` runs tests/python under (the
Makefile's PY_VERSIONS, issue 10). Which versions the library refuses is tested in
tests/python_versions.rs."""

from __future__ import annotations

import re

import pytest

import ghsupport as support

greenhub_only = pytest.mark.greenhub_only


def makefile_versions() -> list[str]:
    text = (support.REPO_ROOT / "Makefile").read_text()
    found = re.search(r"^PY_VERSIONS\s*:=\s*(.+)$", text, re.M)
    assert found, "no PY_VERSIONS in the Makefile"
    return found.group(1).split()


def claimed_versions(readme: str) -> list[str]:
    text = (support.REPO_ROOT / readme).read_text()
    found = re.search(r"Supported CPython versions[^:]*:\s*(.+?)\.\n", text, re.S)
    assert found, f"{readme} has no 'Supported CPython versions ...: X, Y.' line"
    return [v.strip() for v in found.group(1).split(",")]


@greenhub_only(reason="greenhub's CI promise")
@pytest.mark.parametrize("readme", ["README.md", "bindings/python/README.md"])
def test_the_versions_a_readme_claims_are_the_ones_make_test_runs(readme):
    assert claimed_versions(readme) == makefile_versions()

