"""`make install` as a C programmer uses it: into a temporary prefix, then programs built with
pkg-config, with CMake and linked statically, run; `make uninstall` takes it all back."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from install_support import REPO, SOVERSION, VERSION, install_prefix, make, run, sh

CC = os.environ.get("CC", "cc")
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
APP = Path(__file__).with_name("app.c")



@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    return install_prefix(tmp_path_factory)


def installed_files(libdir: str, includedir: str) -> dict:
    """What `make install` must make, relative path -> "file" or the symlink's target."""
    return {
        f"{includedir}/greenhub.h": "file",
        f"{libdir}/libgreenhub.so.{VERSION}": "file",
        f"{libdir}/libgreenhub.so.{SOVERSION}": f"libgreenhub.so.{VERSION}",
        f"{libdir}/libgreenhub.so": f"libgreenhub.so.{VERSION}",
        f"{libdir}/libgreenhub.a": "file",
        f"{libdir}/pkgconfig/greenhub.pc": "file",
        f"{libdir}/cmake/greenhub/greenhub-config.cmake": "file",
        f"{libdir}/cmake/greenhub/greenhub-config-version.cmake": "file",
    }


def tree(root: Path) -> dict:
    """Every file and symlink under root: relative path -> "file" or the link's target."""
    found = {}
    for path in root.rglob("*"):
        rel = "/" + str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = os.readlink(path)
        elif path.is_file():
            found[rel] = "file"
    return found


def debug_sections(path: Path) -> list:
    out = sh(["readelf", "-S", "-W", str(path)])
    return sorted(set(re.findall(r"\.debug_\w+", out)))


def pkg_config(prefix: Path, *args: str) -> list:
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    return shlex.split(sh(["pkg-config", *args, "greenhub"], env=env))


def resolved_greenhub(exe: Path, env=None) -> str:
    """Where the dynamic loader finds libgreenhub for exe (ldd), "" if exe does not need it."""
    for line in sh(["ldd", str(exe)], env=env).splitlines():
        if "libgreenhub" in line:
            return line.split("=>")[1].split("(")[0].strip()
    return ""


def needed(exe: Path) -> list:
    return re.findall(r"\(NEEDED\).*\[(.*)\]", sh(["readelf", "-d", str(exe)]))


def check_app(exe: Path, env=None):
    r = run([str(exe)], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == f"greenhub {VERSION}: echoed foo\n"


# --------------------------------------------------------------------------- the layout


def test_install_makes_exactly_the_library_files_and_uninstall_takes_them_back(tmp_path):
    p = tmp_path / "p"
    make("install", f"PREFIX={p}")
    assert tree(p) == installed_files("/lib", "/include")
    so = p / "lib" / f"libgreenhub.so.{VERSION}"
    assert f"[libgreenhub.so.{SOVERSION}]" in sh(["readelf", "-d", str(so)])
    assert os.access(so, os.X_OK)
    header = (p / "include" / "greenhub.h").read_bytes()
    assert header == (REPO / "include" / "greenhub.h").read_bytes()
    # No debug info unless asked (the build's libraries keep line tables).
    assert debug_sections(REPO / "build" / "libgreenhub.a"), "nothing to strip: a useless check"
    assert debug_sections(so) == []
    assert debug_sections(p / "lib" / "libgreenhub.a") == []

    make("uninstall", f"PREFIX={p}")
    assert tree(p) == {}, "uninstall left files behind"
    assert not (p / "lib" / "cmake" / "greenhub").exists()


def test_keep_debug_installs_the_libraries_as_built(tmp_path):
    p = tmp_path / "p"
    make("install", f"PREFIX={p}", "KEEP_DEBUG=1")
    assert debug_sections(p / "lib" / "libgreenhub.a")
    assert debug_sections(p / "lib" / f"libgreenhub.so.{VERSION}")


def test_destdir_libdir_includedir(tmp_path):
    stage = tmp_path / "stage"
    paths = ["PREFIX=/opt/gh", "LIBDIR=/opt/gh/lib64", "INCLUDEDIR=/opt/gh/inc"]
    make("install", f"DESTDIR={stage}", *paths)
    expected = installed_files("/opt/gh/lib64", "/opt/gh/inc")
    assert tree(stage) == expected
    # The files name where the package will live, never the staging directory.
    for rel in expected:
        if rel.endswith((".pc", ".cmake")):
            text = (stage / rel.lstrip("/")).read_text()
            assert str(stage) not in text, rel
    pc = (stage / "opt/gh/lib64/pkgconfig/greenhub.pc").read_text()
    for line in ("prefix=/opt/gh", "libdir=/opt/gh/lib64", "includedir=/opt/gh/inc"):
        assert line in pc.splitlines()
    config = (stage / "opt/gh/lib64/cmake/greenhub/greenhub-config.cmake").read_text()
    assert f'"/opt/gh/lib64/libgreenhub.so.{VERSION}"' in config
    assert '"/opt/gh/inc"' in config
    make("uninstall", f"DESTDIR={stage}", *paths)
    assert tree(stage) == {}


# --------------------------------------------------------------------------- pkg-config


def test_pkg_config_describes_the_installation(prefix):
    assert pkg_config(prefix, "--modversion") == [VERSION]
    assert pkg_config(prefix, "--cflags") == [f"-I{prefix}/include"]
    assert pkg_config(prefix, "--libs") == [f"-L{prefix}/lib", "-lgreenhub"]
    static = pkg_config(prefix, "--static", "--libs")
    assert static[:2] == [f"-L{prefix}/lib", "-lgreenhub"]
    assert static[2:] == pkg_config(prefix, "--variable=static_libs") and "-lgcc_s" in static


def test_a_program_built_with_pkg_config_runs_on_the_installed_library(prefix, tmp_path):
    exe = tmp_path / "app"  # as the README builds it
    rpath = "-Wl,-rpath," + pkg_config(prefix, "--variable=libdir")[0]
    sh([CC, *CFLAGS, str(APP), "-o", str(exe), *pkg_config(prefix, "--cflags", "--libs"), rpath])
    assert resolved_greenhub(exe) == f"{prefix}/lib/libgreenhub.so.{SOVERSION}"
    check_app(exe)
    # Without the rpath, where the loader is told to look.
    sh([CC, *CFLAGS, str(APP), "-o", str(exe), *pkg_config(prefix, "--cflags", "--libs")])
    env = dict(os.environ, LD_LIBRARY_PATH=str(prefix / "lib"))
    assert resolved_greenhub(exe, env) == f"{prefix}/lib/libgreenhub.so.{SOVERSION}"
    check_app(exe, env)


def test_static_libs_are_what_rustc_says_a_rust_static_library_needs(prefix, tmp_path):
    """The Makefile's STATIC_LIBS is rustc's native-static-libs for greenhub-capi, which adds
    none of its own to std's: compared here with the toolchain's list for a static library."""
    source = tmp_path / "empty.rs"
    source.write_text("pub fn f() {}\n")
    r = run(["rustc", "--crate-type", "staticlib", "--print", "native-static-libs",
             "-o", tmp_path / "libempty.a", source])
    assert r.returncode == 0, r.stderr
    listed = re.search(r"native-static-libs: (.*)", r.stderr).group(1).split()
    assert pkg_config(prefix, "--variable=static_libs") == listed


def test_a_program_linked_statically_needs_no_libgreenhub(prefix, tmp_path):
    exe = tmp_path / "app"
    archive = pkg_config(prefix, "--variable=libdir")[0] + "/libgreenhub.a"
    sh([CC, *CFLAGS, str(APP), "-o", str(exe), *pkg_config(prefix, "--cflags"), archive,
        *pkg_config(prefix, "--variable=static_libs")])
    assert not any("greenhub" in lib for lib in needed(exe)), needed(exe)
    check_app(exe)


# --------------------------------------------------------------------------- CMake


def test_cmake_find_package_shared_and_static(prefix, tmp_path):
    build = tmp_path / "build"
    sh(["cmake", "-S", str(APP.parent), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}",
        f"-DCMAKE_C_COMPILER={CC}", "-DCMAKE_C_FLAGS=" + " ".join(CFLAGS)])
    sh(["cmake", "--build", str(build)])
    shared, static = build / "app_shared", build / "app_static"
    assert resolved_greenhub(shared) == f"{prefix}/lib/libgreenhub.so.{SOVERSION}"
    check_app(shared)
    assert not any("greenhub" in lib for lib in needed(static)), needed(static)
    check_app(static)


@pytest.mark.parametrize(
    "request_, exact, found",
    [
        ("", "", True),
        ("0.2", "", True),
        (VERSION, "EXACT", True),
        ("0.2...0.3", "", True),
        ("0.2.999", "", False),  # newer than what is installed
        ("0.1", "", False),  # another ABI (0.x: every minor release is one)
        ("0.3", "", False),
        ("1.0", "", False),
        ("0.1...0.3", "", False),
    ],
)
def test_cmake_version_requests_follow_the_soname(prefix, tmp_path, request_, exact, found):
    assert VERSION.startswith("0.2."), "update the requests for the new version"
    r = run(["cmake", "-S", str(APP.parent / "version_request"), "-B", str(tmp_path / "b"),
             f"-DCMAKE_PREFIX_PATH={prefix}", f"-DREQUEST={request_}", f"-DEXACT={exact}"])
    assert r.returncode == 0, r.stdout + r.stderr
    want = f"greenhub_FOUND=1 greenhub_VERSION={VERSION}" if found else "greenhub_FOUND=0"
    assert want in r.stdout, r.stdout
