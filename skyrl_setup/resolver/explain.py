"""Turn resolvelib's ResolutionImpossible into one sentence and a way out."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class Cause:
    by: str  # "sglang 0.5.7", "the sglang profile", "--with"
    spec: str  # "torch==2.9.1"
    is_package: bool

    def to_json(self) -> dict:
        return {"by": self.by, "spec": self.spec}


@dataclass(frozen=True)
class Conflict:
    package: str
    causes: tuple[Cause, ...]
    sentence: str
    hint: str
    chain: tuple[str, ...]

    def to_json(self) -> dict:
        return {"conflict": {"package": self.package, "requirements": [c.to_json() for c in self.causes],
                             "chain": list(self.chain)}, "sentence": self.sentence, "hint": self.hint}


def _says(c: Cause) -> str:
    return f"you asked for {c.spec}" if c.by == "you" else f"{c.by} requires {c.spec}"


def causes_of(exc, origins: dict[int, str]) -> list[Cause]:
    out = []
    for info in exc.causes:
        req, parent = info.requirement, info.parent
        if parent is not None:
            out.append(Cause(parent.format_for_error(), str(req), True))
        else:
            out.append(Cause(origins.get(id(req), "your request"), str(req), False))
    return out


def _disjoint(a: str, b: str, versions: list | None) -> bool:
    """True when no available version satisfies both requirement strings."""
    sa, sb = Requirement(a).specifier, Requirement(b).specifier
    if not sa or not sb:
        return False
    if versions is None:
        return str(sa) != str(sb)
    return not any(sa.contains(v, prereleases=True) and sb.contains(v, prereleases=True) for v in versions)


def _pick_pair(causes: list[Cause], versions: list | None) -> tuple[Cause, Cause] | None:
    """Two causes that cannot both hold, preferring those that name a package."""
    ordered = sorted(causes, key=lambda c: not c.is_package)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if a.by != b.by and _disjoint(a.spec, b.spec, versions):
                return a, b
    return None


def _enrich(causes: list[Cause], package: str, engines: dict[str, list[tuple[str, str]]]) -> list[Cause]:
    """Replace "the X profile requires P" by "<engine> requires P" where an engine package of X pins P."""
    out = []
    for c in causes:
        backend = c.by[4:-8] if c.by.startswith("the ") and c.by.endswith(" profile") else None
        found = None
        for by, spec in engines.get(backend, []) if backend else []:
            if _name_of(spec) == package:
                found = Cause(by, spec, True)
                break
        out.append(found or c)
    return out


def _name_of(spec: str) -> str:
    for sep in (";", "[", "=", "<", ">", "!", "~", " "):
        spec = spec.split(sep)[0]
    return canonicalize_name(spec.strip())


def explain(exc, origins: dict[int, str], backends: list[str], additions: list[str],
            engines: dict[str, list[tuple[str, str]]] | None = None, versions_of=None, *, where: str) -> Conflict:
    causes = causes_of(exc, origins)
    if causes:
        causes = _enrich(causes, _name_of(causes[0].spec), engines or {})
    package = _name_of(causes[0].spec) if causes else "?"
    pair = _pick_pair(causes, versions_of(package) if versions_of else None)
    if pair:
        a, b = pair
        sentence = f"{_says(a)} but {_says(b)}"
    elif causes:
        c = causes[0]
        sentence = f"no version of {package} satisfies {c.spec} (required by {c.by}) on this index for {where}"
    else:
        sentence = "the requirements cannot be satisfied together"
    if len(backends) > 1:
        hint = " ; ".join(f"skyrl-setup install --backend {b} --venv ENVS/{b}" for b in backends)
    elif additions:
        adds = ", ".join(additions)
        hint = (f"{adds} cannot live in the {backends[0]} environment; use a version that supports "
                f"{pair[0].spec if pair else package}, or a separate environment (`--venv`, another --backend)")
    else:
        hint = "the profile's pins cannot be met from this index; check UV_INDEX_URL and mirrors"
    if len(backends) > 1 and "these backends" not in sentence:
        sentence += "; these backends need separate environments (`--venv`)"
    chain = tuple(f"{c.by} → {c.spec}" for c in causes)
    return Conflict(package, tuple(causes), sentence, hint, chain)
