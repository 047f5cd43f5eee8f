"""The Python distribution as a Python programmer uses it: `pip wheel ./bindings/python` gives a
platform wheel that installs into a fresh venv where there is no cargo and runs the seed's echo
program from outside the repository; `pip install ./bindings/python` bundles the library; the
sdist carries the Rust sources and builds without the repository."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from install_support import REPO, VERSION, sh

BINDINGS = REPO / "bindings" / "python"
ECHO = BINDINGS / "examples" / "echo_server.py"
# A wheel for every CPython 3 on this platform, the library inside needing glibc 2.X at most.
WHEEL_NAME = re.compile(
    r"pygreenhub-%s-py3-none-manylinux_2_\d+_%s\.whl" % (re.escape(VERSION), platform.machine())
)


def clean_env(**extra) -> dict:
    """The environment of a new user: no PYTHONPATH, no GREENHUB_LIBRARY, no virtualenv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "GREENHUB_LIBRARY", "LD_LIBRARY_PATH", "VIRTUAL_ENV",
                        "PYTHONHOME", "CARGO", "CARGO_TARGET_DIR")}
    env.update(extra)
    return env


def env_without_rust() -> dict:
    """clean_env with PATH stripped of every directory holding cargo or rustc."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any(os.path.exists(os.path.join(d, tool)) for tool in ("cargo", "rustc"))]
    path = os.pathsep.join(dirs)
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None
    return clean_env(PATH=path)


def python_for(name: str) -> str:
    if name == "default":
        return sys.executable
    return sh([REPO / "tests" / "python" / "find-python", name]).strip()


def fresh_venv(python: str, where: Path) -> Path:
    """A new venv of `python`, without pip: pip_install runs this pip under the venv's
    interpreter (`pip --python`), quicker than installing a pip into every venv."""
    sh([python, "-m", "venv", "--without-pip", where], env=clean_env())
    return where / "bin" / "python"


def pip_install(venv_python: Path, *args, env: dict, **kw):
    sh([sys.executable, "-m", "pip", "--python", venv_python, "--disable-pip-version-check",
        "install", "--quiet", *args], env=env, **kw)


def site_packages(venv_python: Path) -> Path:
    out = sh([venv_python, "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"],
             env=clean_env())
    return Path(out.strip())


def loaded_library(venv_python: Path, cwd: Path, env: dict) -> str:
    """The library `import greenhub` loads, run from cwd (greenhub._lib.path)."""
    code = "import greenhub, greenhub._lib as l; print(l.path); print(greenhub.__version__)"
    path, ver = sh([venv_python, "-c", code], cwd=cwd, env=env).split()
    assert ver == VERSION
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
        "-w", out, BINDINGS], cwd=REPO, env=clean_env(), timeout=900)
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


# --------------------------------------------------------------------------- the wheel


def test_the_wheel_is_one_platform_wheel_for_every_cpython(wheel, tmp_path):
    assert WHEEL_NAME.fullmatch(wheel.name), wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = f"pygreenhub-{VERSION}.dist-info"
        assert "greenhub/libgreenhub.so" in names and "greenhub/_lib.py" in names
        assert {f"{info}/licenses/LICENSE-MIT", f"{info}/licenses/LICENSE-APACHE"} <= names
        assert "Root-Is-Purelib: false" in z.read(f"{info}/WHEEL").decode()
        assert "License-Expression: MIT OR Apache-2.0" in z.read(f"{info}/METADATA").decode()
        library = tmp_path / "libgreenhub.so"
        library.write_bytes(z.read("greenhub/libgreenhub.so"))
    assert ".debug_" not in sh(["readelf", "-S", "-W", library]), "debug info in the wheel"
    # auditwheel, the tool PyPI's manylinux rules come with, agrees with the tag.
    report = json.loads(sh([sys.executable, "-m", "auditwheel", "show", "--json", wheel]))
    assert wheel.name.endswith(f"-{report['overall_tag']}.whl"), report["overall_tag"]


class EchoServer:
    """The seed's echo program (bindings/python/examples/echo_server.py), copied out of the
    repository and run by an installed greenhub on 127.0.0.1."""

    def __init__(self, venv_python: Path, workdir: Path, env: dict):
        script = workdir / "echo_server.py"
        shutil.copyfile(ECHO, script)
        for _attempt in range(3):  # another port if someone took ours in between
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            self.out = workdir / f"echo.{self.port}.out"
            with open(self.out, "wb") as out:
                self.proc = subprocess.Popen(
                    [str(venv_python), str(script), str(self.port), "127.0.0.1"],
                    cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT)
            if self._wait_listening(10.0):
                return
            self.stop()
        raise AssertionError(f"the echo server did not listen:\n{self.output()}")

    def _wait_listening(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.listening_on():
                return True
            time.sleep(0.05)
        return False

    def listening_on(self) -> list:
        """Local addresses (hex, /proc/net/tcp) listening on the port."""
        with open("/proc/net/tcp") as f:
            rows = [row.split() for row in f.readlines()[1:]]
        return [r[1].split(":")[0] for r in rows
                if r[3] == "0A" and int(r[1].split(":")[1], 16) == self.port]

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def nc_dialogue(server: EchoServer):
    """The post's nc session: foo, bar, qux echoed back, then end of input ends the handler."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as c:
        reader = c.makefile("rb")
        for word in (b"foo", b"bar", b"qux"):
            c.sendall(word + b"\n")
            assert reader.readline() == word + b"\n", server.output()
        c.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + 5
        while "client disconnected" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
    out = server.output()
    for line in (f"server socket listening on port {server.port}", "client connected",
                 "echoed foo", "echoed bar", "echoed qux", "client disconnected"):
        assert line in out, out


@pytest.mark.parametrize("python", ["default", "3.9", "3.14t"])
def test_the_wheel_runs_the_seed_echo_program_where_there_is_no_rust(wheel, tmp_path, python):
    env = env_without_rust()
    venv = fresh_venv(python_for(python), tmp_path / "venv")
    pip_install(venv, "--no-index", "--no-deps", wheel, env=env)
    outside = tmp_path / "elsewhere"  # no greenhub here, nor in any parent
    outside.mkdir()
    bundled = site_packages(venv) / "greenhub" / "libgreenhub.so"
    assert loaded_library(venv, outside, env) == str(bundled)
    server = EchoServer(venv, outside, env)
    try:
        assert server.listening_on() == ["0100007F"], "HOST 127.0.0.1 was not honoured"
        nc_dialogue(server)
        assert server.proc.poll() is None, server.output()
    finally:
        server.stop()
    assert "Traceback" not in server.output(), server.output()


# --------------------------------------------------------------------------- from source


def test_pip_install_from_the_tree_bundles_the_library(tmp_path):
    venv = fresh_venv(sys.executable, tmp_path / "venv")
    pip_install(venv, BINDINGS, cwd=REPO, env=clean_env(), timeout=900)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    bundled = site_packages(venv) / "greenhub" / "libgreenhub.so"
    assert loaded_library(venv, outside, clean_env()) == str(bundled)


def test_the_sdist_carries_the_rust_sources_and_builds_without_the_repository(tmp_path):
    """`python -m build` makes the sdist, then a wheel from the sdist unpacked in a temporary
    directory, where only the sdist's own copy of the Rust workspace (rust/) can be used."""
    dist = tmp_path / "dist"
    # The library's own build is make's business; here only whether it builds from the sdist
    # matters, so without link-time optimisation (a third of the time).
    quick = {"CARGO_PROFILE_RELEASE_LTO": "off", "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "16"}
    sh([sys.executable, "-m", "build", "--outdir", dist, BINDINGS], cwd=REPO,
       env=clean_env(**quick), timeout=1200)
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for needed in ("setup.py", "pyproject.toml", "LICENSE-MIT", "LICENSE-APACHE",
                   "greenhub/_lib.py", "rust/Cargo.toml", "rust/Cargo.lock", "rust/src/lib.rs",
                   "rust/capi/Cargo.toml", "rust/capi/build.rs", "rust/capi/src/lib.rs",
                   "rust/tools/gen-header/Cargo.toml"):
        assert needed in names, f"{needed} missing from {sdist.name}"
    assert not [n for n in names if "/target/" in n or n.endswith(".so")], "build output in it"
    (built,) = dist.glob("*.whl")
    assert WHEEL_NAME.fullmatch(built.name), built.name
    venv = fresh_venv(sys.executable, tmp_path / "venv")
    env = env_without_rust()
    pip_install(venv, "--no-index", "--no-deps", built, env=env)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    bundled = site_packages(venv) / "greenhub" / "libgreenhub.so"
    assert loaded_library(venv, outside, env) == str(bundled)
