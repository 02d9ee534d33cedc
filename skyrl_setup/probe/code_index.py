"""Where an environment's modules are, and which installed distribution each came from, found as
Python's path-based import would find them but without importing anything. Standard library only:
used by code_paths_script.py, which the target environment's interpreter runs as a file.
"""

import ast
import os
import sys
from importlib.machinery import BYTECODE_SUFFIXES, EXTENSION_SUFFIXES, SOURCE_SUFFIXES

HERE = os.path.dirname(os.path.abspath(__file__))


def search_path():
    """The environment's sys.path, less the probe scripts' own folder (first there when run as a file)."""
    return [p for p in sys.path if os.path.abspath(p or ".") != HERE]


def _editable_mappings():
    """setuptools' editable finders map a top-level name to a folder in a generated module."""
    out = {}
    for entry in search_path():
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


# The order importlib's FileFinder tries in each folder: extension modules, then source, then bytecode.
SUFFIXES = tuple(EXTENSION_SUFFIXES) + tuple(SOURCE_SUFFIXES) + tuple(BYTECODE_SUFFIXES)


class Finder:
    """Where `import a.b.c` would find each part, as Python's path-based finder does, without importing:
    per folder on the path, a package (a folder with an __init__ of any suffix) or a module file wins;
    folders without __init__ only make a namespace package when no folder has either."""

    def __init__(self):
        self.mappings = _editable_mappings()
        self.cache = {}

    @staticmethod
    def _in(folders, name):
        portions = []
        for folder in folders:
            base = os.path.join(folder or ".", name)
            if os.path.isdir(base):
                init = next((base + "/__init__" + s for s in SUFFIXES if os.path.isfile(base + "/__init__" + s)), None)
                if init:
                    kind = "package" if init.endswith(".py") else "extension-package"
                    return (kind, init), [base]
            module = next((base + s for s in SUFFIXES if os.path.isfile(base + s)), None)
            if module:
                return ("source" if module.endswith(".py") else "extension", module), []
            if os.path.isdir(base):
                portions.append(base)
        if portions:
            return ("namespace", portions[0]), portions
        return None, []

    def find(self, module):
        """(kind, path): kind is 'source', 'package', 'namespace', 'extension', 'extension-package',
        'builtin', or None when absent."""
        if module in self.cache:
            return self.cache[module][0]
        parent, _, name = module.rpartition(".")
        if not parent:
            if module in sys.builtin_module_names:
                found, path = ("builtin", module), []
            elif module in self.mappings:
                found, path = self._in([os.path.dirname(self.mappings[module])], os.path.basename(self.mappings[module]))
            else:
                found, path = self._in(search_path(), module)
        else:
            above = self.find(parent)
            path = self.cache[parent][1] if above else []
            found, path = self._in(path, name) if path else (None, [])
        self.cache[module] = (found, path)
        return found


def distributions(tops):
    """Which installed distribution provides each top-level name, from the .dist-info folders'
    names and top_level.txt (importlib.metadata's full map reads every RECORD: seconds)."""
    want = {t: t.lower().replace("-", "_").replace(".", "_") for t in tops}
    out = {}
    for entry in search_path():
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


def owner(path):
    """The installed distribution whose RECORD lists a file (the top-level name can be shared:
    megatron-core and megatron-bridge both install under megatron/)."""
    for entry in search_path():
        root = os.path.abspath(entry or ".")
        if not path.startswith(root + os.sep):
            continue
        rel = os.path.relpath(path, root)
        try:
            infos = [n for n in os.listdir(root) if n.endswith(".dist-info")]
        except OSError:
            continue
        top = rel.split(os.sep)[0]
        infos.sort(key=lambda n: not n.lower().startswith(top.lower().replace("-", "_")))  # the likely one first
        for info in infos:
            try:
                with open(os.path.join(root, info, "RECORD"), encoding="utf-8") as fh:
                    if any(line.split(",", 1)[0] == rel for line in fh):
                        dist, _, version = info[: -len(".dist-info")].partition("-")
                        return {"name": dist.lower().replace("_", "-"), "version": version}
            except OSError:
                continue
    return None
