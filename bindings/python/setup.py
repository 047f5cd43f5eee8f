"""Builds libgreenhub with cargo and bundles it in the greenhub package (pyproject.toml says why
this is done here rather than by a Rust-specific backend).

* build_py: `cargo build --release -p greenhub-capi`, then the library, without its debug info,
  goes into the package as greenhub/libgreenhub.so, where greenhub/_lib.py looks first.
* bdist_wheel: tagged py3-none-PLATFORM (no libpython is linked, so any CPython 3 can load it),
  PLATFORM being manylinux_2_X_ARCH when the library needs only what manylinux allows
  (auditwheel's rules: allowed libraries, glibc 2.X at most), else linux_ARCH.
* sdist: the Rust workspace lives two directories up, outside this project, so the sdist
  carries a copy of what cargo needs under rust/, and a build from the sdist uses that.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
BUNDLED = "libgreenhub.so"  # the name inside the package (greenhub/_lib.py: _candidates)
# What cargo needs to build greenhub-capi: the workspace manifest and lock, every member.
WORKSPACE_FILES = ["Cargo.toml", "Cargo.lock", "src", "capi", "tools/gen-header"]
# The libraries a manylinux wheel may need from the system that a Rust cdylib can link
# (auditwheel's policy lists them; the dynamic loader, ld-linux*, is always allowed).
MANYLINUX_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libgcc_s.so.1", "libpthread.so.0", "libdl.so.2", "librt.so.1",
    "libutil.so.1",
}


def workspace() -> Path:
    """The Rust workspace: the sdist's copy (rust/), else the repository around this directory."""
    for candidate in (HERE / "rust", HERE.parent.parent):
        if (candidate / "capi" / "Cargo.toml").is_file():
            return candidate
    raise SystemExit(
        "greenhub: the Rust sources (capi/Cargo.toml) are neither in %s nor in %s: build from "
        "the greenhub repository (pip >= 21.3 builds a directory in place) or from its sdist"
        % (HERE / "rust", HERE.parent.parent)
    )


def workspace_version() -> str:
    """Cargo.toml's first `version = "..."` (the workspace's), as the Makefile reads it."""
    text = (workspace() / "Cargo.toml").read_text()
    return re.search(r'^version = "(.+)"', text, re.M).group(1)


def cargo_build() -> Path:
    """Builds the C ABI crate (release) and returns the shared library cargo reports."""
    cargo = os.environ.get("CARGO", "cargo")
    command = [
        cargo, "build", "--release", "-p", "greenhub-capi",
        "--manifest-path", str(workspace() / "Cargo.toml"),
        "--message-format=json-render-diagnostics",
    ]
    try:
        out = subprocess.run(command, stdout=subprocess.PIPE, check=True, text=True).stdout
    except FileNotFoundError:
        raise SystemExit(
            "greenhub: building libgreenhub needs Rust's cargo on PATH (https://rustup.rs), or "
            "set CARGO; or install a wheel built where cargo is (pip wheel ./bindings/python)"
        ) from None
    except subprocess.CalledProcessError as e:
        raise SystemExit("greenhub: %s failed with status %d" % (" ".join(command), e.returncode))
    for line in out.splitlines():
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact":
            continue
        if message["target"]["name"] == "greenhub_capi":
            for filename in message["filenames"]:
                if filename.endswith(".so"):
                    return Path(filename)
    raise SystemExit("greenhub: cargo reported no libgreenhub_capi.so")


def copy_without_debug_info(source: Path, dest: Path):
    """As `make install` does; a plain copy where strip is missing."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    strip = shutil.which(os.environ.get("STRIP", "strip"))
    if strip:
        subprocess.run([strip, "--strip-debug", "-o", str(dest), str(source)], check=True)
    else:
        shutil.copyfile(source, dest)
    dest.chmod(0o755)


def manylinux_platform(platform: str, library: Path) -> str:
    """manylinux_2_X_ARCH for linux_ARCH if the library qualifies (see MANYLINUX_LIBRARIES; X
    is the highest GLIBC_2.X symbol version it needs), else platform unchanged."""
    if not platform.startswith("linux_"):
        return platform
    try:
        elf = subprocess.run(
            ["readelf", "--dynamic", "--version-info", "--wide", str(library)],
            stdout=subprocess.PIPE, check=True, text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform  # without binutils, claim nothing more than the build machine
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", elf))
    needed = {lib for lib in needed if not lib.startswith("ld-linux")}
    glibc = [tuple(map(int, v.split("."))) for v in re.findall(r"Name: GLIBC_([0-9.]+)", elf)]
    if not needed <= MANYLINUX_LIBRARIES or not glibc:
        return platform
    major, minor = max(glibc)[:2]
    return "manylinux_%d_%d_%s" % (major, minor, platform[len("linux_"):])


class BuildPyWithLibrary(build_py):
    def run(self):
        if getattr(self, "editable_mode", False):
            super().run()  # an editable install loads the repository's build (make)
            return
        package = Path(self.build_lib) / "greenhub"
        shutil.rmtree(package, ignore_errors=True)  # no module the sources no longer have
        super().run()
        copy_without_debug_info(cargo_build(), package / BUNDLED)


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        _python, _abi, platform = super().get_tag()
        library = Path(self.get_finalized_command("build_py").build_lib) / "greenhub" / BUNDLED
        return "py3", "none", manylinux_platform(platform, library)


class SdistWithRust(sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        source, dest = workspace(), Path(base_dir) / "rust"
        for name in WORKSPACE_FILES:
            if (source / name).is_dir():
                shutil.copytree(source / name, dest / name,
                                ignore=shutil.ignore_patterns("target", "__pycache__"))
            else:
                dest.joinpath(name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / name, dest / name)


class BinaryDistribution(Distribution):
    """Holds a native library: installed as platform-specific (platlib), wheel not pure."""

    def has_ext_modules(self):
        return True


setup(
    version=workspace_version(),
    distclass=BinaryDistribution,
    cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel, "sdist": SdistWithRust},
)
