#!/usr/bin/env python3
"""The Dockerfile's final stage and scripts/image/Containerfile describe the same image.

Operators with Docker build the multi-stage Dockerfile; `make image` builds the Containerfile
from the host's release binary. Both must give the same user, environment, port, entrypoint,
paths and label keys, so the image tested here is the image operators run. Exits 1 naming
what differs.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def final_stage(path: Path):
    text = re.sub(r"\\\n", " ", path.read_text())
    stages = re.split(r"(?m)^FROM\s", text)
    lines = [line.strip() for line in stages[-1].splitlines()[1:]]
    return [line for line in lines if line and not line.startswith("#")]


def summary(path: Path):
    lines = final_stage(path)
    out = {"USER": set(), "ENV": set(), "EXPOSE": set(), "ENTRYPOINT": set(), "COPY": set(), "LABEL": set()}
    for line in lines:
        word, _, rest = line.partition(" ")
        if word == "COPY":
            out["COPY"].add(rest.split()[-1])
        elif word == "LABEL":
            out["LABEL"].update(re.findall(r"([\w.-]+)=", rest))
        elif word in out:
            out[word].add(" ".join(rest.split()))
    return out


def main():
    docker = summary(ROOT / "Dockerfile")
    container = summary(ROOT / "scripts" / "image" / "Containerfile")
    problems = []
    for key in ("USER", "ENV", "EXPOSE", "ENTRYPOINT"):
        if docker[key] != container[key]:
            problems.append(f"{key}: Dockerfile {sorted(docker[key])} vs Containerfile {sorted(container[key])}")
    # The Containerfile also carries the SBOM; every path the Dockerfile installs must be there.
    if not docker["COPY"] <= container["COPY"]:
        problems.append(f"COPY destinations missing from the Containerfile: {sorted(docker['COPY'] - container['COPY'])}")
    required = {f"org.opencontainers.image.{k}" for k in ("title", "source", "version", "revision", "licenses")}
    for name, s in (("Dockerfile", docker), ("Containerfile", container)):
        if not required <= s["LABEL"]:
            problems.append(f"{name} lacks labels {sorted(required - s['LABEL'])}")
    for p in problems:
        print(f"check-dockerfile: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print("check-dockerfile: the Dockerfile's final stage and scripts/image/Containerfile agree")


if __name__ == "__main__":
    main()
