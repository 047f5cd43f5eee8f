"""Where `import greenhub` finds the library (bindings/python/greenhub/_lib.py, _candidates):
GREENHUB_LIBRARY if set (and then only there), else the library bundled in the package, else
the build of the repository the package sits in, else the system's."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from install_support import REPO, SOVERSION, VERSION, install_prefix, run

PACKAGE = REPO / "bindings" / "python" / "greenhub"
BUILT = REPO / "build" / "libgreenhub.so"


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    return install_prefix(tmp_path_factory)


def copy_package(dest: Path, bundle: bool) -> Path:
    """The shim's sources at dest/greenhub, with the library bundled in it or not."""
    target = dest / "greenhub"
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    if bundle:
        shutil.copyfile(BUILT, target / "libgreenhub.so")
    return target


def load(site: Path, code="import greenhub._lib as l; print(l.path)", **env):
    """Runs code (by default: `import greenhub`, print which library it loaded) with only site
    on the path, from elsewhere."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("GREENHUB_LIBRARY", "PYTHONPATH", "LD_LIBRARY_PATH")}
    clean.update(env, PYTHONPATH=str(site))
    return run([sys.executable, "-c", code], env=clean, cwd="/")


def loaded(site: Path, **env) -> str:
    r = load(site, **env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_the_bundled_library_comes_first(tmp_path):
    package = copy_package(tmp_path, bundle=True)
    assert loaded(tmp_path) == str(package / "libgreenhub.so")


def test_greenhub_library_wins_and_nothing_else_is_tried(tmp_path, prefix):
    copy_package(tmp_path, bundle=True)
    chosen = prefix / "lib" / f"libgreenhub.so.{VERSION}"
    assert loaded(tmp_path, GREENHUB_LIBRARY=str(chosen)) == str(chosen)
    r = load(tmp_path, GREENHUB_LIBRARY=str(tmp_path / "missing.so"))
    assert r.returncode != 0 and "ImportError" in r.stderr
    assert "missing.so: not found" in r.stderr
    assert "greenhub/libgreenhub.so" not in r.stderr, "another library was tried"


def test_in_a_checkout_the_repository_build_after_a_bundled_one(tmp_path):
    repo = tmp_path / "repo"  # the layout of a checkout: capi/, build/, bindings/python/
    (repo / "capi").mkdir(parents=True)
    (repo / "capi" / "Cargo.toml").write_text("")
    (repo / "build").mkdir()
    shutil.copyfile(BUILT, repo / "build" / "libgreenhub.so")
    site = repo / "bindings" / "python"
    package = copy_package(site, bundle=False)
    assert loaded(site) == str(repo / "build" / "libgreenhub.so")
    shutil.copyfile(BUILT, package / "libgreenhub.so")
    assert loaded(site) == str(package / "libgreenhub.so")


def test_else_the_systems_library(tmp_path, prefix):
    """Not in a checkout and nothing bundled: the one the dynamic loader finds by name (here
    through LD_LIBRARY_PATH, as after `make install` into a prefix of one's own)."""
    copy_package(tmp_path, bundle=False)
    code = ("import greenhub._lib as l; print(l.path); "
            "print([x.split()[-1] for x in open('/proc/self/maps') if 'libgreenhub' in x][0])")
    r = load(tmp_path, code=code, LD_LIBRARY_PATH=str(prefix / "lib"))
    assert r.returncode == 0, r.stderr
    name, mapped = r.stdout.split()
    assert name == f"libgreenhub.so.{SOVERSION}", name
    assert Path(mapped).resolve() == (prefix / "lib" / f"libgreenhub.so.{VERSION}").resolve()

