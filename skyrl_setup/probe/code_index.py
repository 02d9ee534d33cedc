"""Where an environment's modules are, and which installed distribution each came from, found as
Python's import system would find them but without importing anything. Standard library only:
used by code_paths_script.py, which the target environment's interpreter runs as a file.
"""

import os
import sys
from importlib.machinery import (
    BYTECODE_SUFFIXES,
    EXTENSION_SUFFIXES,
    SOURCE_SUFFIXES,
    BuiltinImporter,
    FrozenImporter,
    PathFinder,
)

HERE = os.path.dirname(os.path.abspath(__file__))


def search_path():
    """The environment's sys.path, less the probe scripts' own folder (first there when run as a file)."""
    return [p for p in sys.path if os.path.abspath(p or ".") != HERE]


# The order importlib's FileFinder tries in each folder: extension modules, then source, then bytecode.
SUFFIXES = tuple(EXTENSION_SUFFIXES) + tuple(SOURCE_SUFFIXES) + tuple(BYTECODE_SUFFIXES)


def _from_spec(spec):
    """A top-level module's spec as Finder.find's (kind, path) and its package's search path."""
    locations = spec.submodule_search_locations
    origin = spec.origin if spec.has_location else None
    if locations is not None:
        locations = list(locations)
        if origin is None:
            return ("namespace", locations[0] if locations else ""), locations
        return ("package" if origin.endswith(".py") else "extension-package", origin), locations
    if origin is None:
        return ("builtin", spec.name), []
    return ("source" if origin.endswith(".py") else "extension", origin), []


def _top_level(name):
    """A top-level name, asked of the interpreter's own meta path finders in their order: the path
    (site-packages, .pth entries, path hooks) and the finders editable installs add, whose formats
    change (setuptools 84 annotates MAPPING: issue 22). For a top-level name a finder only looks (but
    _distutils_hack's, for `distutils`, imports setuptools, as the real import would); find_spec of a
    submodule would import its parents, so submodules are found in Finder._in.
    Frozen stdlib modules are left to the path, so that their source is read."""
    for finder in sys.meta_path:
        if finder in (BuiltinImporter, FrozenImporter):
            continue
        try:
            spec = finder.find_spec(name, search_path() if finder is PathFinder else None)
        except Exception:  # noqa: BLE001 - a broken finder finds nothing, as far as this check can tell
            continue
        if spec is not None:
            return _from_spec(spec)
    return None, []


class Finder:
    """Where `import a.b.c` would find each part, without importing: `a` as the import system finds it,
    the rest as the path-based finder does in the package's folders: per folder, a package (a folder
    with an __init__ of any suffix) or a module file wins; folders without __init__ only make a
    namespace package when no folder has either."""

    def __init__(self):
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
            else:
                found, path = _top_level(module)
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
