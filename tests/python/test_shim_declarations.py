"""greenhub's own promises (issue #4): the shim's ctypes declarations against the C header.

``greenhub._lib`` declares every function of include/greenhub.h with the header's types, applies
the declarations, and lays out its Structures as the C compiler does; every submodule imports.
A small parser of the header (checked itself, last) is the reference. The runtime promises (native stacks, the GIL
rule) are in test_greenhub_native.py.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
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
    "int16_t": ctypes.c_int16,
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
    assert not isinstance(lib_mod.lib, ctypes.PyDLL), "lib is the CDLL: the GIL released around each call"


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
