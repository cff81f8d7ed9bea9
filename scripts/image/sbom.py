#!/usr/bin/env python3
"""A CycloneDX 1.5 SBOM (JSON) of what the kaigo image holds, from the lockfiles alone.

    python3 scripts/image/sbom.py [--deb PACKAGES] [--version V] > kaigo.cdx.json

- Rust: the crates compiled into `kaigo` (normal dependencies of the kaigo package for
  x86_64-unknown-linux-gnu, from `cargo metadata --locked`; build and dev dependencies are
  not in the binary), with their licences and Cargo.lock's sha256.
- npm: the packages bundled into web/dist (web/package-lock.json entries not marked dev),
  with their licences and lockfile integrity hashes.
- Debian: the runtime base's packages (`name version arch` lines that scripts/image/base.sh
  writes next to its tarball), when given.

No network beyond what `cargo metadata` needs for an already-fetched lockfile.
"""

import argparse
import base64
import json
import subprocess
import sys
import tomllib
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
TARGET = "x86_64-unknown-linux-gnu"


def cargo_components(package: str):
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", TARGET],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    checksums = {(p["name"], p["version"]): p.get("checksum") for p in lock["package"]}
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    (root_id,) = [i for i, p in packages.items() if p["name"] == package and p["source"] is None]

    def normal(dep):
        return any(k["kind"] is None for k in dep["dep_kinds"])

    seen, stack, edges = set(), [root_id], {}
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        deps = [d["pkg"] for d in nodes[pid]["deps"] if normal(d)]
        edges[pid] = deps
        stack.extend(deps)

    def ref(pid):
        p = packages[pid]
        return f"pkg:cargo/{p['name']}@{p['version']}"

    components = []
    for pid in sorted(seen - {root_id}, key=lambda i: (packages[i]["name"], packages[i]["version"])):
        p = packages[pid]
        c = {"type": "library", "bom-ref": ref(pid), "name": p["name"], "version": p["version"], "purl": ref(pid)}
        if p.get("license"):
            c["licenses"] = [{"expression": p["license"]}]
        if p.get("source") is None:
            c["purl"] = c["bom-ref"]
            c["description"] = "kaigo workspace crate"
        checksum = checksums.get((p["name"], p["version"]))
        if checksum:
            c["hashes"] = [{"alg": "SHA-256", "content": checksum}]
        components.append(c)
    dependencies = [
        {"ref": ref(pid), "dependsOn": sorted({ref(d) for d in deps})} for pid, deps in sorted(edges.items())
    ]
    return packages[root_id], ref(root_id), components, dependencies


def npm_components():
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())
    components = []
    for path, p in sorted(lock["packages"].items()):
        if not path or p.get("dev") or p.get("link"):
            continue
        name = p.get("name") or path.rsplit("node_modules/", 1)[1]
        purl = f"pkg:npm/{quote(name, safe='/')}@{p['version']}".replace("pkg:npm/@", "pkg:npm/%40")
        c = {"type": "library", "bom-ref": purl, "name": name, "version": p["version"], "purl": purl}
        if p.get("license"):
            c["licenses"] = [{"expression": p["license"]}]
        integrity = p.get("integrity", "")
        if integrity.startswith("sha512-"):
            c["hashes"] = [{"alg": "SHA-512", "content": base64.b64decode(integrity[7:]).hex()}]
        components.append(c)
    return components


def deb_components(path: Path, suite_version: str):
    components = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        name, version, arch = line.split()
        purl = f"pkg:deb/debian/{name}@{quote(version)}?arch={arch}&distro=debian-{suite_version}"
        components.append({"type": "library", "bom-ref": purl, "name": name, "version": version, "purl": purl})
    return components


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package", default="kaigo")
    ap.add_argument("--version", help="the image's version (default: the crate's)")
    ap.add_argument("--deb", type=Path, help="the base's package list (name version arch)")
    ap.add_argument("--debian-version", default="12")
    args = ap.parse_args()

    root, root_ref, rust, dependencies = cargo_components(args.package)
    web = npm_components()
    deb = deb_components(args.deb, args.debian_version) if args.deb else []
    version = args.version or root["version"]
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "tools": {"components": [{"type": "application", "name": "kaigo scripts/image/sbom.py"}]},
            "component": {
                "type": "container",
                "bom-ref": "kaigo-image",
                "name": "kaigo",
                "version": version,
                "licenses": [{"expression": root.get("license") or "Apache-2.0"}],
                "components": [
                    {"type": "application", "bom-ref": root_ref, "name": root["name"], "version": root["version"],
                     "purl": root_ref, "description": "/usr/local/bin/kaigo"},
                    {"type": "application", "bom-ref": "kaigo-web", "name": "kaigo-web", "version": version,
                     "description": "/usr/share/kaigo/web"},
                ],
            },
        },
        "components": rust + web + deb,
        "dependencies": dependencies
        + [{"ref": "kaigo-web", "dependsOn": sorted(c["bom-ref"] for c in web)}],
    }
    json.dump(bom, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
    print(f"sbom: {len(rust)} crates, {len(web)} npm packages, {len(deb)} Debian packages", file=sys.stderr)


if __name__ == "__main__":
    main()
