#!/usr/bin/env python3
"""The repository stands alone: no tracked file cites a document outside it, and every citation
of a page under docs/ (with its anchor) resolves.

Run by `make docs-check` (part of `make lint`, hence `make test`). Reads the tracked files of
the working tree (`git ls-files`; with `--others` also untracked ones that are not ignored);
takes about a second.

1. Outside documents: the research notes kept beside the repository while it was being written
   (a sibling directory of notes, and notes named in upper case). Their knowledge now lives in docs/.
2. Citations: `docs/<path>.md#<anchor>` anywhere in a tracked text file (paths from the
   repository root), and relative Markdown links `[text](<path>.md#<anchor>)` in Markdown files.
   The page must be tracked or present, and the anchor must be an explicit `<a id="…">` of that
   page or the GitHub slug of one of its headings.
"""

import os
import re
import subprocess
import sys

ROOT = subprocess.run(
    ["git", "rev-parse", "--show-toplevel"], check=True, capture_output=True, text=True
).stdout.strip()
SELF = os.path.relpath(os.path.abspath(__file__), ROOT)

# Built from parts so that this file does not match itself.
UPPER_NOTES = ["REFER" + "ENCE", "CAREPLAN" + "-CSV", "OPINION" + "-AND-CERTIFICATES", "CARD" + "-IDENTITY"]
OUTSIDE = re.compile(
    r"\.\./" + "shared"
    + r"|\b" + "shared" + r"/(domain|reference|hooks)\b"
    + r"|\b(" + "|".join(UPPER_NOTES) + r")(\.md|\s*§)"
    + r"|(?<![/\w])" + "ARCHITECTURE" + r"\.md"
    + r"|\b000_77a2b41b" + r"73e914cb\b"
)
ROOT_CITATION = re.compile(r"(?<![\w./-])(docs/[\w./-]*?\.md)(#[\w-]+)?")
MD_LINK = re.compile(r"\]\(([^)\s#]+\.md)?(#[\w-]+)?\)")
EXPLICIT_ID = re.compile(r"""<a\s+(?:id|name)=["']([\w-]+)["']""")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


anchor_cache: dict[str, set[str] | None] = {}


def anchors(path: str) -> set[str] | None:
    """The anchors of a page, or None when the page does not exist."""
    if path not in anchor_cache:
        full = os.path.join(ROOT, path)
        if not os.path.isfile(full):
            anchor_cache[path] = None
        else:
            with open(full, encoding="utf-8", errors="replace") as f:
                text = f.read()
            anchor_cache[path] = set(EXPLICIT_ID.findall(text)) | {slug(h) for h in HEADING.findall(text)}
    return anchor_cache[path]


def main() -> int:
    # `--others`: also the untracked files that are not ignored (to check before committing).
    extra = ["--cached", "--others", "--exclude-standard"] if "--others" in sys.argv[1:] else []
    files = subprocess.run(
        ["git", "ls-files", "-z", *extra], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode().split("\0")
    problems = []
    for rel in files:
        if not rel or rel == SELF:
            continue
        full = os.path.join(ROOT, rel)
        if not os.path.isfile(full):
            continue
        with open(full, "rb") as f:
            data = f.read()
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            m = OUTSIDE.search(line)
            if m:
                problems.append(f"{rel}:{n}: cites a document outside the repository ({m.group(0)!r}); cite docs/ instead")
            cited = [(p, a) for p, a in ROOT_CITATION.findall(line)]
            if rel.endswith(".md"):
                base = os.path.dirname(rel)
                for p, a in MD_LINK.findall(line):
                    if p.startswith(("http:", "https:")):
                        continue
                    target = os.path.normpath(os.path.join(base, p)) if p else rel
                    cited.append((target, a))
            for page, anchor in cited:
                found = anchors(page)
                if found is None:
                    problems.append(f"{rel}:{n}: cites {page}, which does not exist")
                elif anchor and anchor[1:] not in found:
                    problems.append(f"{rel}:{n}: cites {page}{anchor}, which has no such anchor")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"docs-check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
