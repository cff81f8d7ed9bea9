#!/usr/bin/env python3
"""No two modules of a crate import each other (issue #18): within every crate of the workspace,
the modules under one parent never reach each other in a circle, directly (`api` uses
`people` and `people` uses `api`) or through others (`a` → `b` → `c` → `a`).

Run by `make import-cycles` (part of `make lint`, hence `make test`); takes well under a second.

How it reads the code: each `.rs` file under a crate's `src/` is a module (`a/b.rs` and
`a/b/mod.rs` are `a::b`); an arrow goes from a module to the module that owns every
`crate::…`, `super::…` and `self::…` path it names, in `use` declarations and in code alike
(comments, strings and `#[cfg(test)] mod tests` blocks are left out, as are `tests.rs` files).
An arrow between two modules counts between their ancestors that are siblings (an arrow from
`api::steps` to `people` is an arrow from `api` to `people`); arrows to a module's own
ancestors (a child using its parent's items) are not circles and are not counted.

KNOWN lists the circles still open, each with why; the check fails on a circle not in it, and
on an entry of it that no longer occurs (remove it then).
"""

import os
import re
import subprocess
import sys
from collections import defaultdict

ROOT = subprocess.run(
    ["git", "rev-parse", "--show-toplevel"], check=True, capture_output=True, text=True
).stdout.strip()

CRATES = ["proto"] + [os.path.join("services", d) for d in sorted(os.listdir(os.path.join(ROOT, "services")))]

# crate -> {frozenset of sibling modules in one circle: why it is still open}
KNOWN = {}

USE = re.compile(r"\buse\s+((?:crate|super|self)::[^;]*);", re.S)
PATH = re.compile(r"(?<![:\w])((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
TESTS = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([\w:]+\))?\s+)?mod\s+\w+\s*\{")


def module_of(src, path):
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip(text):
    """Comments, strings and inline test modules removed."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    match = TESTS.search(text)
    if match:
        # Drop the block: up to its matching brace.
        depth, i = 0, match.end() - 1
        while i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        text = text[: match.start()] + strip(text[i + 1 :])
    return text


def expand(tree):
    """`crate::{a::b, c::{d, e}}` → the paths it names."""
    tree = tree.strip()
    match = re.match(r"^(.*?)::\{(.*)\}$", tree, re.S)
    if not match:
        return [tree.split(" as ")[0].strip()]
    prefix, inner = match.groups()
    parts, depth, current = [], 0, ""
    for ch in inner:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    out = []
    for part in (p.strip() for p in parts):
        if part == "self":
            out.append(prefix)
        elif part:
            out.extend(prefix + "::" + e for e in expand(part))
    return out


def resolve(path, me):
    segs = [s.strip() for s in path.split("::")]
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    else:
        base = list(me)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    return tuple(base + [s for s in segs if s])


def arrows(crate):
    src = os.path.join(ROOT, crate, "src")
    files = [os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs if f.endswith(".rs")]
    modules = {module_of(src, f) for f in files}

    def owner(path):
        for i in range(len(path), -1, -1):
            if path[:i] in modules:
                return path[:i]
        return ()

    edges = defaultdict(lambda: defaultdict(set))  # sibling -> sibling -> evidence
    for file in files:
        if os.path.basename(file) == "tests.rs":
            continue
        me = module_of(src, file)
        with open(file, encoding="utf-8") as f:
            text = strip(f.read())
        paths = [p for m in USE.finditer(text) for p in expand(re.sub(r"\s+", " ", m.group(1)))]
        paths += PATH.findall(text)
        for path in paths:
            target = owner(resolve(path, me))
            common = 0
            while common < min(len(me), len(target)) and me[common] == target[common]:
                common += 1
            if common in (len(me), len(target)):
                continue  # itself, an ancestor or a descendant
            a, b = me[: common + 1], target[: common + 1]
            edges[a][b].add(f"{os.path.relpath(file, ROOT)}: {path}")
    return edges


def circles(edges):
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(group)

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def main():
    failures = []
    for crate in CRATES:
        if not os.path.isdir(os.path.join(ROOT, crate, "src")):
            continue
        edges = arrows(crate)
        known = dict(KNOWN.get(crate, {}))
        for group in circles(edges):
            names = frozenset("::".join(m) for m in group)
            if known.pop(names, None) is not None:
                continue
            lines = [f"{crate}: modules that import each other: {', '.join(sorted(names))}"]
            for a in sorted(group):
                for b in sorted(edges[a]):
                    if b in group:
                        evidence = sorted(edges[a][b])
                        lines.append(f"  {'::'.join(a)} -> {'::'.join(b)}  ({evidence[0]}"
                                     + (f" and {len(evidence) - 1} more" if len(evidence) > 1 else "") + ")")
            failures.append("\n".join(lines))
        for names in known:
            failures.append(f"{crate}: the known circle {', '.join(sorted(names))} is gone: remove it from KNOWN")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        print(f"import-cycles: {len(failures)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
