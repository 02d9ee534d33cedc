"""Can SkyRL's code paths import here? Read, never executed. Standard library only.

Run by the target environment's own interpreter, so that its import system (sys.path with its
.pth entries, the finders editable installs add) is the one asked. argv[1] is a JSON document:
  {"entry": [modules to start from], "follow": [top-level packages to follow transitively],
   "interface": {"module:Class": [method, ...]}}
For every module-level `import X` / `from X import a, b` of the followed modules, X must be
found there (code_index.py) and a, b must exist in it (defined, assigned, imported, a submodule, or
reachable through `__getattr__` / `import *`, which count as "may exist"). Nothing is
imported: a package's __init__ is parsed, not run, so this works without a GPU driver.
Answers one JSON document (_skyrl_channel.py); every failure is a value in it.
"""

import ast
import json
import os
import re
import sys
import time

from _skyrl_channel import emit  # a sibling file, as code_index.py
from code_index import (  # a sibling file: this script's folder is on sys.path
    Finder,
    distributions,
    owner,
)


def _catches_import_error(handler):
    if handler.type is None:
        return True
    names = [getattr(t, "id", getattr(t, "attr", "")) for t in
             (handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type])]
    return bool({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"} & set(names))


def _statement(lines, node):
    """The whole statement, one line: an import in parentheses spans several, and its first alone names nothing."""
    text = " ".join(lines[node.lineno - 1:getattr(node, "end_lineno", None) or node.lineno])
    text = " ".join(text.split()).replace("( ", "(").replace(", )", ")").replace(" )", ")")
    return text if len(text) <= 200 else text[:199] + "…"


def _is_type_checking(test):
    return getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING"


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
        pattern = (r"^(?:(?:async\s+)?def\s+%s\b|class\s+%s\b|%s\s*(?::[^=\n]*)?=[^=]|(?:from\s+\S+\s+)?import\s+[^(\n]*(?<![.\w])%s\b(?![.\w]|\s+as\b))"
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
        if kind in ("extension", "extension-package", "builtin"):
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
        failures, nxt = self._block(module, kind == "package", path, tree.body)
        for row in failures:
            self.fail(*row)
        return nxt

    def _block(self, module, is_pkg, path, body):
        """(failures, followed modules) of statements run at import. Branches are alternatives: an
        if/elif/else, or a try and its ImportError handlers, fails only when every way through it fails."""
        failures, nxt = [], []
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                stmt = _statement(self.lines[path], node)
                if isinstance(node, ast.Import):
                    wanted = [(a.name, None) for a in node.names]
                else:
                    target = self.resolve_relative(module, is_pkg, node)
                    wanted = [(target, None if a.name == "*" else a.name) for a in node.names]
                for target, name in wanted:
                    f, n = self._check_import(module, node.lineno, stmt, target, name)
                    failures += f
                    nxt += n
            elif isinstance(node, ast.If):
                ways = [node.orelse] if _is_type_checking(node.test) else [node.body, node.orelse]
                failures += self._alternatives(module, is_pkg, path, ways, nxt)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                f, n = self._block(module, is_pkg, path, node.body)
                failures, nxt = failures + f, nxt + n
            elif isinstance(node, ast.Try):
                fallbacks = [h.body for h in node.handlers if _catches_import_error(h)
                             and not any(isinstance(x, ast.Raise) for x in h.body)]
                failures += self._alternatives(module, is_pkg, path, [node.body + node.orelse] + fallbacks, nxt)
                f, n = self._block(module, is_pkg, path, node.finalbody)
                failures, nxt = failures + f, nxt + n
        return failures, nxt

    def _alternatives(self, module, is_pkg, path, ways, nxt):
        results = [self._block(module, is_pkg, path, way) for way in ways]
        for _, n in results:
            nxt += n
        if any(not f for f, _ in results):
            return []
        return results[0][0]

    def _check_import(self, module, line, stmt, target, name):
        """(failures, followed modules) of one imported name."""
        nxt = []
        parts = target.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
            prefix = ".".join(parts[:i])
            if self.finder.find(prefix) is None:
                return [(module, line, stmt, prefix, "module")], nxt
            if self.followed(prefix):
                nxt.append(prefix)
        if name is not None:
            sub = f"{target}.{name}"
            if self.finder.find(sub) is not None:
                if self.followed(sub):
                    nxt.append(sub)
            elif self.has_name(target, name) is False:
                return [(module, line, stmt, sub, "name")], nxt
        return [], nxt

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


def _bindings(checker, mod, is_pkg, tree):
    """Names a module binds by import: name -> (module, name there) for `from m import X as Y`, and
    name -> (module, None) for `import a.b as m`."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            target = checker.resolve_relative(mod, is_pkg, node)
            out.update({a.asname or a.name: (target, a.name) for a in node.names if a.name != "*"})
        elif isinstance(node, ast.Import):
            out.update({a.asname: (a.name, None) for a in node.names if a.asname})
            out.update({a.name.split(".")[0]: (a.name.split(".")[0], None) for a in node.names if not a.asname})
    return out


def _base_ref(base, here, bindings):
    """(module, class name) a base class expression points at, or None when it cannot be told."""
    if isinstance(base, ast.Name):
        mod, name = bindings.get(base.id, (here, base.id))
        return (mod, name) if name else None
    if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
        mod, name = bindings.get(base.value.id, (None, None))
        return (mod, base.attr) if mod and name is None else None
    return None


def _alias(tree, name):
    """The expression a module-level `name = Other` binds, where it is a plain or dotted name."""
    for n in tree.body:
        if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == name for t in n.targets) \
                and isinstance(n.value, (ast.Name, ast.Attribute)):
            return n.value
    return None


def check_interface(checker, spec, methods):
    """Whether a class has the methods, its bases followed (also through a package that re-exports one).
    A base that cannot be read leaves the answer open ('unknown'): never a false 'missing'."""
    module, _, cls = spec.partition(":")
    found = checker.finder.find(module)
    if found is None or found[0] not in ("source", "package"):
        return {"class": spec, "status": "missing", "detail": f"module {module} not found", "missing": list(methods)}
    have, seen, todo, unread = set(), set(), [(module, cls)], []
    while todo:
        mod, name = todo.pop()
        if (mod, name) in seen or len(seen) > 30:
            continue
        seen.add((mod, name))
        hit = checker.finder.find(mod)
        tree = checker.tree(hit[1]) if hit and hit[0] in ("source", "package") else None
        if tree is None or isinstance(tree, Exception):
            unread.append(f"{mod}.{name}")
            continue
        bindings = _bindings(checker, mod, hit[0] == "package", tree)
        node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)
        if node is None:
            alias = _alias(tree, name)  # `AsyncLLMEngine = AsyncLLM`: the class it names
            ref = _base_ref(alias, mod, bindings) if alias is not None else None
            if name in bindings and bindings[name][1]:  # re-exported: follow it to where it is defined
                todo.append(bindings[name])
            elif ref:
                todo.append(ref)
            else:
                unread.append(f"{mod}.{name}")
            continue
        have.update(n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
        have.update(t for n in node.body if isinstance(n, (ast.Assign, ast.AnnAssign)) for t in _targets(n))
        for base in node.bases:
            ref = _base_ref(base, mod, bindings)
            if ref:
                todo.append(ref)
            elif not (isinstance(base, ast.Name) and base.id == "object"):
                unread.append(ast.dump(base)[:60])
    missing = [m for m in methods if m not in have]
    status = "ok" if not missing else ("unknown" if unread else "missing")
    return {"class": spec, "status": status, "missing": missing,
            "detail": f"could not read {', '.join(unread[:3])}" if missing and unread else ""}


def main():
    t0 = time.perf_counter()
    try:
        req = json.loads(sys.argv[1])
        checker = Checker(req.get("follow", []))
        missing_entry = checker.run(req.get("entry", []))
        interface = [check_interface(checker, spec, methods) for spec, methods in (req.get("interface") or {}).items()]
        tops = {f["missing"].split(".")[0] for f in checker.findings} | {m.split(".")[0] for m in req.get("entry", [])}
        tops |= {i["class"].split(".")[0] for i in interface}
        dists = distributions(tops)
        for f in checker.findings:  # who installed the module a missing name was looked for in
            hit = checker.finder.find(f["missing"].rpartition(".")[0]) if f["kind"] == "name" else None
            f["owner"] = owner(os.path.abspath(hit[1])) if hit and hit[0] in ("source", "package") else None
        doc = {"status": "ok", "findings": checker.findings, "missing_entry": missing_entry, "interface": interface,
               "checked": len(checker.checked), "dists": {t: dists.get(t) for t in sorted(tops)}}
    except Exception as exc:  # noqa: BLE001 - a failure is a value
        doc = {"status": "error", "detail": f"{type(exc).__name__}: {exc}"}
    doc["seconds"] = round(time.perf_counter() - t0, 3)
    emit(doc)


if __name__ == "__main__":
    main()
