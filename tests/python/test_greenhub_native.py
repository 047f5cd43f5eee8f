"""greenhub's own promises (issue #4), beyond Eventlet's API.

Tests marked ``greenhub_only`` are skipped under GREENHUB_TESTS_IMPL=eventlet (they check
the C header, native stacks, the GIL rule); the others here hold for Eventlet too.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ghsupport as support

greenhub_only = pytest.mark.greenhub_only


# =========================================================================== the C header


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _parse_type(decl: str, with_name: bool):
    """'const char *host' -> ('char', 1, 'host'); 'struct gh_addr *' -> ('gh_addr', 1, None)."""
    stars = decl.count("*")
    words = [w for w in re.split(r"[\s\*]+", decl) if w and w not in ("const", "struct", "volatile")]
    name = None
    if with_name and len(words) > 1:
        name = words.pop()
    assert len(words) == 1, f"cannot parse C declaration {decl!r}"
    return words[0], stars, name


class Header:
    def __init__(self, path: Path):
        text = _strip_comments(path.read_text())
        self.defines = {
            m.group(1): int(m.group(2)) for m in re.finditer(r"#define\s+(\w+)\s+(-?\d+)\s*$", text, re.M)
        }
        # typedef int64_t gh_sock;
        self.aliases = {
            m.group(2): m.group(1)
            for m in re.finditer(r"typedef\s+(\w+)\s+(\w+)\s*;", text)
        }
        # typedef int (*gh_fn)(void *arg);
        self.fnptrs = {}
        for m in re.finditer(r"typedef\s+([\w\s\*]+?)\s*\(\s*\*\s*(\w+)\s*\)\s*\(([^()]*)\)\s*;", text):
            self.fnptrs[m.group(2)] = (_parse_type(m.group(1), False), self._args(m.group(3)))
        # typedef struct gh_addr { ... } gh_addr;
        self.structs = {}
        for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{([^}]*)\}\s*(\w+)\s*;", text, re.S):
            fields = []
            for field in filter(None, (f.strip() for f in m.group(2).split(";"))):
                arr = re.match(r"(.*?)\[\s*(\w+)\s*\]$", field)
                length = None
                if arr:
                    field, length = arr.group(1), arr.group(2)
                    length = self.defines.get(length, None) if not length.isdigit() else int(length)
                base, stars, fname = _parse_type(field, True)
                fields.append((fname, base, stars, length))
            self.structs[m.group(1)] = fields
            self.structs[m.group(3)] = fields
        # prototypes
        self.functions = {}
        for m in re.finditer(
            r"(?P<ret>(?:const\s+)?(?:struct\s+)?\w+[\s\*]+)(?P<name>gh_\w+)\s*\((?P<args>[^()]*)\)\s*;", text
        ):
            if m.group("name") in self.fnptrs:
                continue
            self.functions[m.group("name")] = (_parse_type(m.group("ret"), False), self._args(m.group("args")))

    @staticmethod
    def _args(text: str):
        text = text.strip()
        if text in ("", "void"):
            return []
        return [_parse_type(a.strip(), True) for a in text.split(",")]

    def resolve(self, base: str) -> str:
        seen = set()
        while base in self.aliases and base not in seen:
            seen.add(base)
            base = self.aliases[base]
        return base


SCALARS = {
    "int": ctypes.c_int,
    "int32_t": ctypes.c_int32,
    "int64_t": ctypes.c_int64,
    "uint16_t": ctypes.c_uint16,
    "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "ssize_t": ctypes.c_ssize_t,
    "bool": ctypes.c_bool,
    "char": ctypes.c_char,
}


def _is_pointer_type(t) -> bool:
    return isinstance(t, type) and issubclass(t, ctypes._Pointer)


def _is_funcptr_type(t) -> bool:
    return isinstance(t, type) and issubclass(t, ctypes._CFuncPtr)


def _name(t) -> str:
    return "None" if t is None else getattr(t, "__name__", repr(t))


def check_type(header: Header, base: str, stars: int, actual, where: str, problems: list, length=None):
    base = header.resolve(base)
    if length is not None:  # char host[N]
        ok = isinstance(actual, type) and issubclass(actual, ctypes.Array)
        if not ok or actual._length_ != length:
            problems.append(f"{where}: header {base}[{length}], shim {_name(actual)}")
            return
        check_type(header, base, stars, actual._type_, where + "[]", problems)
        return
    if stars == 0:
        if base == "void":
            if actual is not None:
                problems.append(f"{where}: header void, shim {_name(actual)}")
        elif base in header.fnptrs:
            if actual is ctypes.c_void_p:
                return
            if not _is_funcptr_type(actual):
                problems.append(f"{where}: header function pointer {base}, shim {_name(actual)}")
                return
            (rbase, rstars, _), args = header.fnptrs[base]
            check_type(header, rbase, rstars, actual._restype_, f"{where} ({base} result)", problems)
            if len(actual._argtypes_) != len(args):
                problems.append(f"{where}: {base} takes {len(args)} arguments, shim's CFUNCTYPE {len(actual._argtypes_)}")
                return
            for i, ((abase, astars, _), at) in enumerate(zip(args, actual._argtypes_)):
                check_type(header, abase, astars, at, f"{where} ({base} arg {i})", problems)
        elif base in header.structs:
            check_struct(header, base, actual, where, problems)
        elif base in SCALARS:
            if actual is not SCALARS[base]:
                problems.append(f"{where}: header {base}, shim {_name(actual)} (expected {_name(SCALARS[base])})")
        else:
            problems.append(f"{where}: unknown header type {base}")
        return
    # pointers
    if actual is ctypes.c_void_p:
        return
    if base == "char" and stars == 1 and actual is ctypes.c_char_p:
        return
    if base == "void" and stars == 1 and actual in (ctypes.py_object, ctypes.c_char_p):
        return
    if _is_pointer_type(actual):
        if base == "void" and stars == 1:
            return  # a typed pointer passed as void *
        check_type(header, base, stars - 1, actual._type_, where + " (pointee)", problems)
        return
    problems.append(f"{where}: header {base}{' *' * stars}, shim {_name(actual)}")


def check_struct(header: Header, base: str, actual, where: str, problems: list):
    if not (isinstance(actual, type) and issubclass(actual, ctypes.Structure)):
        problems.append(f"{where}: header struct {base}, shim {_name(actual)}")
        return
    fields = header.structs[base]
    got = list(actual._fields_)
    if [f[0] for f in fields] != [g[0] for g in got]:
        problems.append(f"{where}: struct {base} fields {[f[0] for f in fields]}, shim {[g[0] for g in got]}")
        return
    for (fname, fbase, fstars, flen), (gname, gtype, *_) in zip(fields, got):
        check_type(header, fbase, fstars, gtype, f"{where} .{fname}", problems, length=flen)


def _shim_lib():
    import importlib

    return importlib.import_module(support.eventlet.__name__ + "._lib")


def _shim_tables(lib_mod):
    tables = {}
    for attr in ("FUNCTIONS", "PY_FUNCTIONS"):
        table = getattr(lib_mod, attr, None)
        if isinstance(table, dict):
            for name, decl in table.items():
                tables[name] = (attr, decl)
    assert tables, "greenhub._lib has no FUNCTIONS table (name -> (restype, argtypes))"
    return tables


@greenhub_only(reason="compares greenhub._lib's ctypes declarations with include/greenhub.h")
def test_ctypes_declarations_match_the_header():
    header = Header(support.HEADER)
    assert len(header.functions) >= 60, f"header parser found only {len(header.functions)} functions"
    assert "gh_listen" in header.functions and "gh_version" in header.functions
    lib_mod = _shim_lib()
    problems = []
    for name, (table, decl) in sorted(_shim_tables(lib_mod).items()):
        where = f"{table}[{name!r}]"
        if name not in header.functions:
            problems.append(f"{where}: not declared in include/greenhub.h")
            continue
        restype, argtypes = decl
        (rbase, rstars, _), args = header.functions[name]
        check_type(header, rbase, rstars, restype, f"{where} result", problems)
        if argtypes is None or len(argtypes) != len(args):
            problems.append(
                f"{where}: header has {len(args)} arguments, shim declares "
                f"{'no argtypes' if argtypes is None else len(argtypes)}"
            )
            continue
        for i, ((abase, astars, aname), at) in enumerate(zip(args, argtypes)):
            check_type(header, abase, astars, at, f"{where} arg {i} ({aname})", problems)
    assert not problems, "ctypes declarations disagree with include/greenhub.h:\n" + "\n".join(problems)


@greenhub_only(reason="greenhub._lib")
def test_every_header_function_is_declared_and_applied():
    header = Header(support.HEADER)
    lib_mod = _shim_lib()
    tables = _shim_tables(lib_mod)
    missing = sorted(set(header.functions) - set(tables))
    assert not missing, f"functions of include/greenhub.h the shim does not declare: {missing}"
    # the declarations are applied to the function objects actually called
    for name, (table, (restype, argtypes)) in tables.items():
        dll = lib_mod.pylib if table == "PY_FUNCTIONS" else lib_mod.lib
        f = getattr(dll, name)
        assert f.restype is restype or (restype is None and f.restype is None), f"{name}: restype not applied"
        assert list(f.argtypes or []) == list(argtypes), f"{name}: argtypes not applied"
    assert isinstance(lib_mod.pylib, ctypes.PyDLL), "gh_py_* must be called through ctypes.PyDLL"
    assert not isinstance(lib_mod.lib, ctypes.PyDLL), "blocking calls must go through ctypes.CDLL"


@greenhub_only(reason="struct layout of greenhub.h vs the shim's ctypes Structures")
def test_struct_layouts_match_the_c_compiler(tmp_path):
    header = Header(support.HEADER)
    lib_mod = _shim_lib()
    structs = {}
    for table, (restype, argtypes) in _shim_tables(lib_mod).values():
        for t in [restype, *argtypes]:
            while _is_pointer_type(t):
                t = t._type_
            if isinstance(t, type) and issubclass(t, ctypes.Structure):
                structs[t.__name__] = t
    by_c_name = {}
    for cname in ("gh_addr", "gh_spawn_opts"):
        want = [f[0] for f in header.structs[cname]]
        match = [s for s in structs.values() if [f[0] for f in s._fields_] == want]
        assert match, f"no ctypes Structure of the shim has the fields of struct {cname}: {want}"
        by_c_name[cname] = match[0]
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "a C compiler (cc) is needed: the build itself requires one"
    lines = []
    for cname, st in by_c_name.items():
        lines.append(f'printf("{cname} size %zu\\n", sizeof(struct {cname}));')
        for fname, *_ in st._fields_:
            lines.append(f'printf("{cname}.{fname} %zu\\n", offsetof(struct {cname}, {fname}));')
    src = tmp_path / "layout.c"
    src.write_text(
        "#include <stddef.h>\n#include <stdio.h>\n#include \"greenhub.h\"\nint main(void) {\n"
        + "\n".join(lines)
        + "\nreturn 0;\n}\n"
    )
    exe = tmp_path / "layout"
    subprocess.run([cc, "-I", str(support.HEADER.parent), str(src), "-o", str(exe)], check=True, timeout=60)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=10).stdout
    c_values = dict(line.rsplit(" ", 1) for line in out.splitlines())
    for cname, st in by_c_name.items():
        assert int(c_values[f"{cname} size"]) == ctypes.sizeof(st), f"sizeof(struct {cname})"
        for fname, *_ in st._fields_:
            assert int(c_values[f"{cname}.{fname}"]) == getattr(st, fname).offset, f"offsetof({cname}, {fname})"


def test_submodules_importable():
    assert not support.SUBMODULE_ERRORS, "submodules that failed to import:\n" + "\n".join(
        f"{k}:\n{v}" for k, v in support.SUBMODULE_ERRORS.items()
    )
    for sub in support.SUBMODULES:
        assert getattr(support.eventlet, sub, None) is not None, f"{support.IMPL}.{sub} is not an attribute"


# =========================================================================== stress under -X dev

STRESS = r'''
import contextvars
import gc
import sys
import threading
import traceback

N = int(sys.argv[1])
ROUNDS = int(sys.argv[2])
CHECK_THREADING_LOCAL = IMPL == "greenhub"  # Eventlet isolates it only when monkey-patched
DEPTH = 8

tl = threading.local()
cv = contextvars.ContextVar("cv", default=None)


class Expected(Exception):
    pass


def deep(n, ident, acc):
    """DEPTH levels of recursion, switching at every level and inside except/chaining."""
    if n == 0:
        eventlet.sleep(0)
        return acc + ident
    if n % 3 == 0:
        try:
            raise ValueError((ident, n))
        except ValueError as e:
            eventlet.sleep(0)  # suspended while handling an exception
            assert sys.exc_info()[1] is e, "exception state lost across a switch"
            try:
                try:
                    raise KeyError(n) from e
                except KeyError as k:
                    eventlet.sleep(0)  # suspended during chaining
                    assert k.__cause__ is e and e.args[0] == (ident, n)
                    raise
            except KeyError as k2:
                assert k2.args == (n,) and sys.exc_info()[1] is k2
            assert sys.exc_info()[1] is e
    r = deep(n - 1, ident, acc + n)
    eventlet.sleep(0)
    return r


def gen(ident, log):
    try:
        for i in range(3):
            eventlet.sleep(0)
            yield ident * 10 + i
    finally:
        eventlet.sleep(0)  # sleeps inside close()
        log.append("closed")


class Ctx:
    def __init__(self):
        self.state = []

    def __enter__(self):
        eventlet.sleep(0)
        self.state.append("enter")
        return self

    def __exit__(self, typ, val, tb):
        eventlet.sleep(0)
        self.state.append(("exit", typ))
        return False


def task(ident):
    tl.value = ident
    cv.set(ident)
    r = deep(DEPTH, ident, 0)
    assert r == DEPTH * (DEPTH + 1) // 2 + ident, r
    if CHECK_THREADING_LOCAL:
        assert tl.value == ident, f"threading.local leaked: {tl.value} != {ident}"
    assert cv.get() == ident, f"contextvar leaked: {cv.get()} != {ident}"
    log = []
    g = gen(ident, log)
    first = next(g)
    eventlet.sleep(0.001)
    second = next(g)
    g.close()
    assert log == ["closed"], log
    assert (first, second) == (ident * 10, ident * 10 + 1)
    with Ctx() as c:
        eventlet.sleep(0)
        if ident % 50 == 0:
            gc.collect()  # collect while hundreds of others are suspended
    assert c.state == ["enter", ("exit", None)], c.state
    c2 = Ctx()
    try:
        with c2:
            eventlet.sleep(0)
            raise RuntimeError(ident)
    except RuntimeError as e:
        assert e.args == (ident,)
        assert e.__traceback__ is not None
    assert c2.state == ["enter", ("exit", RuntimeError)], c2.state
    if CHECK_THREADING_LOCAL:
        assert tl.value == ident
    assert cv.get() == ident
    if ident % 100 == 7:
        raise Expected(ident)  # escapes: printed, re-raised by wait()
    return ident * 2


def root_nested(k, fn):
    """The root blocks 10 frames deep."""
    if k == 0:
        return fn()
    return root_nested(k - 1, fn)


def one_round(round_no):
    tl.value = "root"
    cv.set("root")
    gts = [eventlet.spawn(task, i) for i in range(N)]
    eventlet.sleep(0)
    gc.collect()  # in the root while every green thread is suspended
    results = {}
    failures = {}

    def collect():
        for i, gt in enumerate(gts):
            try:
                results[i] = gt.wait()
            except Expected as e:
                tb = traceback.extract_tb(e.__traceback__)
                assert any(f.name == "task" for f in tb), "traceback lost its frames"
                failures[i] = e.args[0]

    root_nested(10, collect)
    assert cv.get() == "root"
    if CHECK_THREADING_LOCAL:
        assert tl.value == "root"
    expected_fail = {i for i in range(N) if i % 100 == 7}
    assert set(failures) == expected_fail, (sorted(failures), sorted(expected_fail))
    assert all(failures[i] == i for i in failures)
    assert results == {i: i * 2 for i in range(N) if i not in expected_fail}
    return len(expected_fail)


escaped = 0
for r in range(ROUNDS):
    escaped += one_round(r)
    gc.collect()
print(f"STRESS OK rounds={ROUNDS} threads={N} escaped={escaped}", flush=True)
'''


@greenhub_only(reason="native stacks and thread states: the script also runs under Eventlet (threading.local check off)")
@pytest.mark.budget(60)
def test_stress_1000_green_threads_under_dev_mode(tmp_path):
    n, rounds = 1200, 2
    proc = support.run_script(STRESS, timeout=50, args=(n, rounds), python_flags=("-X", "dev"), tmp_path=tmp_path)
    assert proc.returncode == 0, support.describe(proc)
    assert f"STRESS OK rounds={rounds} threads={n} escaped=24" in proc.stdout, support.describe(proc)
    assert proc.stderr.count("Traceback (most recent call last)") == 24, support.describe(proc)
    assert proc.stderr.count("Expected: ") == 24, support.describe(proc)
    assert "Fatal Python error" not in proc.stderr, support.describe(proc)


# =========================================================================== C -> Python callbacks

CALLBACKS = r'''
import ctypes, random
libc = ctypes.CDLL(None)
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
libc.qsort.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, CMP]
libc.qsort.restype = None
calls = []

def sorter(ident):
    rnd = random.Random(ident)
    values = [rnd.randrange(1000) for _ in range(30)]

    def cmp(a, b):
        calls.append(ident)
        eventlet.sleep(0)  # switch inside a C -> Python callback (ctypes: PyGILState_Ensure)
        return (a[0] > b[0]) - (a[0] < b[0])

    cb = CMP(cmp)
    arr = (ctypes.c_int * len(values))(*values)
    libc.qsort(arr, len(values), ctypes.sizeof(ctypes.c_int), cb)
    assert list(arr) == sorted(values), (ident, list(arr))
    return ident

gts = [eventlet.spawn(sorter, i) for i in range(20)]
assert [gt.wait() for gt in gts] == list(range(20))
switches = sum(1 for a, b in zip(calls, calls[1:]) if a != b)
assert switches > 100, f"callbacks did not interleave ({switches} switches)"
print("CALLBACKS OK", flush=True)
'''


def test_switching_inside_ctypes_callbacks_under_dev_mode(tmp_path):
    """A C->Python callback (ctypes, through PyGILState_Ensure) in a green thread may switch."""
    proc = support.run_script(CALLBACKS, timeout=30, python_flags=("-X", "dev"), tmp_path=tmp_path)
    assert proc.returncode == 0 and "CALLBACKS OK" in proc.stdout, support.describe(proc)


# =========================================================================== stack overflow

OVERFLOW = r'''
import json, sys
sys.setrecursionlimit(10_000_000)  # Python's limit must not stop it: the C stack overflows
KIND = sys.argv[1]
ticks = []

def ticker():
    for i in range(40):
        ticks.append(i)
        eventlet.sleep(0.002)
    return "ticker done"

def overflow_sorted():
    def rec(n):
        return sorted([n], key=lambda x: rec(x + 1))  # C (sorted) re-entering Python
    eventlet.sleep(0.01)
    rec(0)

def overflow_json():
    nested = cur = []
    for _ in range(3_000_000):
        new = []
        cur.append(new)
        cur = new
    eventlet.sleep(0.01)
    json.dumps(nested)

t = eventlet.spawn(ticker)
victim = eventlet.spawn(overflow_sorted if KIND == "sorted" else overflow_json)
try:
    with eventlet.Timeout(10):
        result = victim.wait()
    print("VICTIM returned", repr(result), flush=True)
except eventlet.Timeout:
    print("VICTIM wait() hung", flush=True)
except BaseException as e:
    print("VICTIM raised", type(e).__name__, flush=True)
    print("MESSAGE", str(e)[:200], flush=True)
assert t.wait() == "ticker done"
assert ticks == list(range(40)), ticks

# the interpreter and the hub are healthy afterwards
def work(i):
    eventlet.sleep(0.001)
    return sorted(range(i, 0, -1), key=lambda x: -x)[:2]
assert [g.wait() for g in [eventlet.spawn(work, i) for i in range(3, 50)]] == [[i, i - 1] for i in range(3, 50)]
import gc; gc.collect()
print("SURVIVED", flush=True)
'''


@greenhub_only(reason="greenhub runs Python green threads on their own guarded C stacks")
@pytest.mark.parametrize("kind", ["sorted", "json"])
@pytest.mark.budget(40)
def test_c_stack_overflow_kills_only_that_green_thread(tmp_path, kind):
    """Up to 3.13 the recursion runs into the green stack's guard page: greenhub stops that
    thread alone. From 3.14 CPython checks the stack pointer against the thread state's stack
    bounds, which greenhub gives it (the green stack's): the thread gets CPython's own
    RecursionError, near the end of its 1 MiB stack, before the guard page."""
    proc = support.run_script(OVERFLOW, timeout=30, args=(kind,), tmp_path=tmp_path)
    assert proc.returncode == 0, support.describe(proc)
    assert "SURVIVED" in proc.stdout, support.describe(proc)
    assert "VICTIM returned" not in proc.stdout, "the recursion did not overflow:\n" + support.describe(proc)
    assert "VICTIM wait() hung" not in proc.stdout, support.describe(proc)
    if sys.version_info >= (3, 14):
        assert "VICTIM raised RecursionError" in proc.stdout, support.describe(proc)
        used = re.search(r"MESSAGE Stack overflow \(used (\d+) kB\)", proc.stdout)
        assert used, "not CPython's C stack check:\n" + support.describe(proc)
        assert 512 < int(used.group(1)) <= 1024, "bounds other than the 1 MiB green stack's:\n" + support.describe(proc)
        assert "overflowed its stack" not in proc.stderr, support.describe(proc)
        return
    if kind == "json" and sys.version_info[:2] == (3, 12):
        # 3.12 bounds C recursion in its own encoder (a fixed C recursion limit, not
        # sys.setrecursionlimit): the thread gets RecursionError before the stack runs out.
        assert "VICTIM raised RecursionError" in proc.stdout, support.describe(proc)
        return
    assert "VICTIM raised RecursionError" not in proc.stdout, (
        "Python's recursion limit stopped it before the C stack overflowed:\n" + support.describe(proc)
    )
    assert "overflow" in proc.stderr.lower(), "the overflow must be reported on stderr:\n" + support.describe(proc)


# =========================================================================== GIL held

GIL_HELD = r'''
import ctypes, errno, time, importlib
_lib = importlib.import_module(eventlet.__name__ + "._lib")
pydll = ctypes.PyDLL(_lib.path, use_errno=True)
for name, args in (("gh_sleep", [ctypes.c_int64]), ("gh_yield", []), ("gh_sem_acquire", [ctypes.c_int64, ctypes.c_int64])):
    getattr(pydll, name).argtypes = args
    getattr(pydll, name).restype = ctypes.c_int
csem = _lib.lib.gh_sem_new(0)

def attempt(where):
    for name, args in (("gh_sleep", (2000,)), ("gh_yield", ()), ("gh_sem_acquire", (csem, 2000))):
        ctypes.set_errno(0)
        t0 = time.monotonic()
        r = getattr(pydll, name)(*args)
        e = ctypes.get_errno()
        took = time.monotonic() - t0
        print(where, name, r, "EDEADLK" if e == errno.EDEADLK else errno.errorcode.get(e, e), "%.3f" % took, flush=True)

attempt("ROOT")
other = eventlet.spawn(eventlet.sleep, 0.05)
gt = eventlet.spawn(attempt, "GREEN")
gt.wait()
other.wait()
print("AFTER", eventlet.spawn(lambda: 6 * 7).wait(), flush=True)
'''


@greenhub_only(reason="greenhub's rule: a blocking call with the GIL held is refused (EDEADLK)")
def test_blocking_call_with_the_gil_held_is_refused(tmp_path):
    proc = support.run_script(GIL_HELD, timeout=20, tmp_path=tmp_path)
    assert proc.returncode == 0, support.describe(proc)
    lines = [line.split() for line in proc.stdout.splitlines() if line.startswith(("ROOT", "GREEN"))]
    assert len(lines) == 6, support.describe(proc)
    for where, name, r, err, took in lines:
        assert r == "-1" and err == "EDEADLK", f"{where} {name}: returned {r}, errno {err}\n" + support.describe(proc)
        assert float(took) < 0.5, f"{where} {name} blocked {took}s before refusing"
    assert "AFTER 42" in proc.stdout, support.describe(proc)


def test_header_parser_sees_the_whole_api():
    """The parser used above reads every prototype, typedef and struct of the header."""
    header = Header(support.HEADER)
    text = _strip_comments(support.HEADER.read_text())
    assert len(header.functions) == len(re.findall(r"\bgh_\w+\s*\([^()]*\)\s*;", text))
    assert header.functions["gh_version"] == (("char", 1, None), [])
    assert header.functions["gh_getsockopt"][1][4] == ("size_t", 1, "len")
    assert header.resolve("gh_sock") == "int64_t"
    assert set(header.fnptrs) >= {"gh_fn", "gh_serve_fn", "gh_log_fn", "gh_tpool_fn"}
    assert [f[0] for f in header.structs["gh_addr"]] == ["family", "port", "host"]
    assert header.structs["gh_addr"][2][3] == header.defines["GH_HOST_MAX"]
