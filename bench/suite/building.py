"""Building what the suite runs, and the Python packages it compares with."""
import glob
import os
import shutil
import subprocess
import sys

from suite.paths import BB, BUILD, CFLAGS, FILES, HERE, LOADGEN, LOGS, PY_PACKAGES, ROOT, VENV, VPY, \
    log, run_checked, venv_has


def c_programs():
    """The C programs of bench/, each built into build/bench/ under its file's name: the
    baselines (bench/baseline/*.c) stand alone, the servers and micro-benchmarks
    (bench/servers/*.c, bench/micro/*.c) link libgreenhub."""
    plain = sorted(glob.glob(os.path.join(HERE, "baseline", "*.c")))
    linked = sorted(glob.glob(os.path.join(HERE, "servers", "*.c")) +
                    glob.glob(os.path.join(HERE, "micro", "*.c")))
    return plain, linked


def build(points):
    """`make examples`, the load generator, bench/'s C programs, and the points' files."""
    os.makedirs(BB, exist_ok=True)
    os.makedirs(LOGS, exist_ok=True)
    run_checked(["make", "examples"], 900)
    run_checked(["cargo", "build", "--release", "--quiet", "--manifest-path",
                 os.path.join(HERE, "loadgen", "Cargo.toml"),
                 "--target-dir", os.path.join(BB, "cargo")], 900)
    shutil.copy2(os.path.join(BB, "cargo", "release", "loadgen"), LOADGEN)
    # The `generator` crate's bare resume + yield, what the switch is compared with.
    run_checked(["cargo", "build", "--release", "--quiet", "--manifest-path",
                 os.path.join(HERE, "micro", "generator_pair", "Cargo.toml"),
                 "--target-dir", os.path.join(BB, "cargo")], 900)
    shutil.copy2(os.path.join(BB, "cargo", "release", "generator_pair"),
                 os.path.join(BB, "generator_pair"))
    cc = os.environ.get("CC", "cc")
    plain, linked = c_programs()
    for src in plain:
        name = os.path.basename(src)[:-2]
        run_checked([cc] + CFLAGS + [src, "-o", os.path.join(BB, name)], 120)
    gh = ["-std=c99", "-D_GNU_SOURCE", "-I" + os.path.join(ROOT, "include")]
    link = ["-L" + BUILD, "-lgreenhub", "-Wl,-rpath,$ORIGIN/.."]
    for src in linked:
        name = os.path.basename(src)[:-2]
        run_checked([cc] + CFLAGS + gh + [src, "-o", os.path.join(BB, name)] + link, 120)
    os.makedirs(FILES, exist_ok=True)
    for p in points:
        if "file" in p:
            path = os.path.join(FILES, p["file"])
            if not os.path.exists(path) or os.path.getsize(path) != p["size"]:
                with open(path, "wb") as f:
                    f.write(os.urandom(p["size"]))


def setup_venv(no_pip):
    """Eventlet, gevent and uvloop in bench/.venv; each one that fails only loses its rows."""
    notes = {}
    if no_pip:
        return notes
    try:
        if not os.path.exists(VPY):
            run_checked([sys.executable, "-m", "venv", VENV], 300)
        for pkg in PY_PACKAGES:
            if venv_has(pkg):
                continue
            r = subprocess.run([VPY, "-m", "pip", "install", "--quiet",
                                "--disable-pip-version-check", pkg],
                               capture_output=True, timeout=600, cwd=ROOT)
            if r.returncode != 0:
                notes[pkg] = r.stderr.decode(errors="replace").strip().splitlines()[-1:]
                log("pip install %s failed: %s" % (pkg, notes[pkg]))
    except (subprocess.SubprocessError, OSError) as e:
        notes["venv"] = str(e)
        log("could not set up bench/.venv: %s" % e)
    return notes
