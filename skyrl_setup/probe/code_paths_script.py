"""Can SkyRL's code paths import here? Read, never executed. Standard library only.

Run by the target environment's own interpreter, so that its sys.path (site-packages, .pth
entries, editable checkouts) is the one searched. argv[1] is a JSON document:
  {"entry": [modules to start from], "follow": [top-level packages to follow transitively],
   "interface": {"module:Class": [method, ...]}}
For every module-level `import X` / `from X import a, b` of the followed modules, X must be
found on sys.path and a, b must exist in it (defined, assigned, imported, a submodule, or
reachable through `__getattr__` / `import *`, which count as "may exist"). Nothing is
imported: a package's __init__ is parsed, not run, so this works without a GPU driver.
Prints one JSON document; every failure is a value in it.
"""

import ast
import json
import os
import re
import sys
import time
from importlib.machinery import all_suffixes

SOURCE_SUFFIXES = (".py",)


def _editable_mappings():
    """setuptools' editable finders map a top-level name to a folder in a generated module."""
    out = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for n in names:
            if n.startswith("__editable__") and n.endswith("_finder.py"):
                try:
                    tree = ast.parse(open(os.path.join(entry, n), encoding="utf-8").read())
                except (OSError, SyntaxError, ValueError):
                    continue
                for node in tree.body:
                    if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "MAPPING" for t in node.targets):
                        try:
                            out.update(ast.literal_eval(node.value))
                        except ValueError:
                            pass
    return out


class Finder:
    def __init__(self):
        self.mappings = _editable_mappings()
        self.cache = {}

    def _top(self, name):
        hits = []
        if name in self.mappings:
            hits.append(self.mappings[name])
        for entry in sys.path:
            base = os.path.join(entry or ".", name)
            if os.path.isdir(base):
                hits.append(base)
            else:
                for suffix in all_suffixes():
                    if os.path.isfile(base + suffix):
                        return [base + suffix]
        return hits

    def find(self, module):
        """(kind, path): kind is 'source', 'package', 'namespace', 'extension', 'builtin', or None when absent."""
        if module in self.cache:
            return self.cache[module]
        if module in sys.builtin_module_names:
            return ("builtin", module)
        parts = module.split(".")
        places = self._top(parts[0])
        found = None
        for i, part in enumerate(parts):
            if i > 0:
                nxt = []
                for place in places:
                    base = os.path.join(place, part)
                    if os.path.isdir(base):
                        nxt.append(base)
                    else:
                        for suffix in all_suffixes():
                            if os.path.isfile(base + suffix):
                                nxt = [base + suffix]
                                break
                    if nxt and not os.path.isdir(nxt[0]):
                        break
                places = nxt
            if not places:
                found = None
                break
            first = places[0]
            if os.path.isfile(first):
                found = ("source" if first.endswith(SOURCE_SUFFIXES) else "extension", first)
                if i < len(parts) - 1:
                    found = None  # a module is no package: nothing below it
                    break
            else:
                init = os.path.join(first, "__init__.py")
                found = ("package", init) if os.path.isfile(init) else ("namespace", first)
                regular = [p for p in places if os.path.isfile(os.path.join(p, "__init__.py"))]
                places = regular[:1] or places
        self.cache[module] = found
        return found


def _guarded(node):
    """A try whose handlers catch ImportError (or broader): its imports are optional."""
    for h in node.handlers:
        names = []
        if h.type is None:
            return True
        for t in (h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]):
            names.append(getattr(t, "id", getattr(t, "attr", "")))
        if {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"} & set(names):
            return True
    return False


def _is_type_checking(test):
    return getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING"


def module_level(body):
    """Statements run when the module is imported: into if/else, with and unguarded try, not into defs."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from module_level(node.body)
            yield from module_level(node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            yield from module_level(node.body)
        elif isinstance(node, ast.Try):
            if not _guarded(node):
                yield from module_level(node.body)
            yield from module_level(node.orelse)
            yield from module_level(node.finalbody)


def _targets(node):
    for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
        for n in ast.walk(t):
            if isinstance(n, ast.Name):
                yield n.id


def _replaces_module(target):
    return (isinstance(target, ast.Subscript) and getattr(target.value, "attr", "") == "modules"
            and getattr(target.slice, "id", "") == "__name__")


def names_in(tree):
    """(names a module defines, whether it may define others: import *, a module __getattr__,
    or replacing itself in sys.modules). Every branch counts: a name on any path may exist."""
    names, open_ended = set(), False
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            open_ended |= node.name == "__getattr__"
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            names.update(_targets(node))
            open_ended |= isinstance(node, ast.Assign) and any(_replaces_module(t) for t in node.targets)
        elif isinstance(node, ast.Import):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name == "*":
                    open_ended = True
                else:
                    names.add(a.asname or a.name)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            names.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
            todo += node.body + node.orelse
        elif isinstance(node, (ast.If, ast.While)):
            todo += node.body + node.orelse
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            todo += node.body
        elif isinstance(node, ast.Try):
            todo += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
    return names, open_ended


class Checker:
    def __init__(self, follow):
        self.finder = Finder()
        self.follow = tuple(follow)
        self.trees = {}
        self.lines = {}
        self.names = {}
        self.findings = []
        self.checked = []

    def tree(self, path):
        if path not in self.trees:
            try:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
                self.trees[path] = ast.parse(text, filename=path)
                self.lines[path] = text.splitlines()
            except (OSError, SyntaxError, ValueError) as exc:
                self.trees[path] = exc
        return self.trees[path]

    def _defined_at_top(self, path, name):
        """A cheap yes before parsing a large third-party module: `def name`, `class name`, `name =`
        or a one-line `from … import …, name` at column 0 (module level by construction)."""
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, ValueError):
            return False
        pattern = (r"^(?:(?:async\s+)?def\s+%s\b|class\s+%s\b|%s\s*(?::[^=\n]*)?=[^=]|(?:from\s+\S+\s+)?import\s+[^(\n]*\b%s\b(?!\s+as\b))"
                   % ((re.escape(name),) * 4))
        return re.search(pattern, text, re.M) is not None

    def followed(self, module):
        return module.split(".")[0] in self.follow

    def resolve_relative(self, module, is_pkg, node):
        if not node.level:
            return node.module or ""
        base = module.split(".") if is_pkg else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def has_name(self, module, name):
        """True, False, or None when it cannot be told (an extension module, an unreadable file)."""
        found = self.finder.find(module)
        if found is None:
            return False
        kind, path = found
        if self.finder.find(f"{module}.{name}") is not None:
            return True
        if kind in ("extension", "builtin"):
            return None
        if kind == "namespace":
            return False
        if path not in self.names and not self.followed(module) and self._defined_at_top(path, name):
            return True
        if path not in self.names:
            tree = self.tree(path)
            self.names[path] = None if isinstance(tree, Exception) else names_in(tree)
        if self.names[path] is None:
            return None
        names, open_ended = self.names[path]
        if name in names:
            return True
        return None if open_ended else False

    def fail(self, module, line, statement, missing, kind):
        row = {"module": module, "line": line, "statement": statement, "missing": missing, "kind": kind}
        if row not in self.findings:
            self.findings.append(row)


    def check_module(self, module):
        """None when the module is not there; else the followed modules it imports."""
        found = self.finder.find(module)
        if found is None:
            return None
        kind, path = found
        if kind not in ("source", "package"):
            return []
        tree = self.tree(path)
        if isinstance(tree, Exception):
            self.fail(module, 0, "", f"{path}: {tree}", "unreadable")
            return []
        self.checked.append(module)
        nxt = []
        for node in module_level(tree.body):
            if isinstance(node, ast.Import):
                wanted = [(a.name, None) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = self.resolve_relative(module, kind == "package", node)
                wanted = [(target, None if a.name == "*" else a.name) for a in node.names]
            else:
                continue
            stmt = self.lines[path][node.lineno - 1].strip() if node.lineno <= len(self.lines[path]) else ""
            for target, name in wanted:
                nxt += self._check_import(module, node.lineno, stmt, target, name)
        return nxt

    def _check_import(self, module, line, stmt, target, name):
        nxt = []
        parts = target.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
            prefix = ".".join(parts[:i])
            if self.finder.find(prefix) is None:
                self.fail(module, line, stmt, prefix, "module")
                return nxt
            if self.followed(prefix):
                nxt.append(prefix)
        if name is not None:
            sub = f"{target}.{name}"
            if self.finder.find(sub) is not None:
                if self.followed(sub):
                    nxt.append(sub)
            elif self.has_name(target, name) is False:
                self.fail(module, line, stmt, sub, "name")
        return nxt

    def run(self, entry):
        seen, queue, missing_entry = set(), list(entry), []
        while queue:
            module = queue.pop(0)
            if module in seen:
                continue
            seen.add(module)
            parts = module.split(".")
            for i in range(1, len(parts)):  # a module's packages run first
                parent = ".".join(parts[:i])
                if parent not in seen:
                    queue.append(parent)
            imported = self.check_module(module)
            if imported is None:
                if module in entry:
                    missing_entry.append(module)
                continue
            queue += [m for m in imported if m not in seen]
        return missing_entry


def check_interface(finder, checker, spec, methods):
    module, _, cls = spec.partition(":")
    found = finder.find(module)
    if found is None or found[0] not in ("source", "package"):
        return {"class": spec, "status": "missing", "detail": f"module {module} not found", "missing": list(methods)}
    have, seen, todo = set(), set(), [(module, cls)]
    while todo:  # the class and its bases, followed through the modules that define them
        mod, name = todo.pop()
        if (mod, name) in seen or len(seen) > 20:
            continue
        seen.add((mod, name))
        hit = finder.find(mod)
        tree = checker.tree(hit[1]) if hit and hit[0] in ("source", "package") else None
        if tree is None or isinstance(tree, Exception):
            continue
        imports = {}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                target = checker.resolve_relative(mod, hit[0] == "package", node)
                for a in node.names:
                    imports[a.asname or a.name] = target
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == name:
                have.update(n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
                have.update(t for n in node.body if isinstance(n, (ast.Assign, ast.AnnAssign)) for t in _targets(n))
                for base in node.bases:
                    bname = getattr(base, "id", None) or getattr(base, "attr", None)
                    if bname:
                        todo.append((imports.get(bname, mod), bname))
                break
    missing = [m for m in methods if m not in have]
    return {"class": spec, "status": "missing" if missing else "ok", "missing": missing, "detail": ""}


def distributions(tops):
    """Which installed distribution provides each top-level name, from the .dist-info folders'
    names and top_level.txt (importlib.metadata's full map reads every RECORD: seconds)."""
    want = {t: t.lower().replace("-", "_").replace(".", "_") for t in tops}
    out = {}
    for entry in sys.path:
        try:
            infos = [n for n in os.listdir(entry or ".") if n.endswith(".dist-info")]
        except OSError:
            continue
        for info in infos:
            dist, _, version = info[: -len(".dist-info")].partition("-")
            provides = {dist.lower().replace("-", "_").replace(".", "_")}
            try:
                with open(os.path.join(entry, info, "top_level.txt"), encoding="utf-8") as fh:
                    provides |= {line.strip() for line in fh if line.strip()}
            except OSError:
                pass
            for top, norm in want.items():
                if top not in out and (norm in provides or top in provides):
                    out[top] = {"name": dist.lower().replace("_", "-"), "version": version}
    return out


def main():
    t0 = time.perf_counter()
    try:
        req = json.loads(sys.argv[1])
        checker = Checker(req.get("follow", []))
        missing_entry = checker.run(req.get("entry", []))
        interface = [check_interface(checker.finder, checker, spec, methods) for spec, methods in (req.get("interface") or {}).items()]
        tops = {f["missing"].split(".")[0] for f in checker.findings} | {m.split(".")[0] for m in req.get("entry", [])}
        tops |= {i["class"].split(".")[0] for i in interface}
        dists = distributions(tops)
        doc = {"status": "ok", "findings": checker.findings, "missing_entry": missing_entry, "interface": interface,
               "checked": len(checker.checked), "dists": {t: dists.get(t) for t in sorted(tops)}}
    except Exception as exc:  # noqa: BLE001 - a failure is a value
        doc = {"status": "error", "detail": f"{type(exc).__name__}: {exc}"}
    doc["seconds"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
