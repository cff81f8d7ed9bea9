#!/usr/bin/env python3
"""Adapts rendered kaigo manifests (kustomize or helm output) to ONE machine for `podman kube play`.

    kubectl kustomize k8s/overlays/dev | python3 scripts/image/kube_adapt.py - --out DIR \\
        --image localhost/kaigo:test --database-url postgres://… --redis-url redis://… \\
        --public-key /path/dev-signing-key.pub.pem [--ports gateway=50051,eligibility=50052,…]

Only what a single machine without a cluster requires is changed; everything else (args,
envFrom, env, securityContext, volumes, resources, probe timings) is the manifests' own:

- host networking: every pod gets `hostNetwork: true`, and since all share the host's ports,
  each component gets its own loopback port: `KAIGO_SERVER__LISTEN=127.0.0.1:<port>` in its
  own ConfigMap (which `envFrom` reads after the shared one). `ports` are left out: podman
  makes them port mappings, which it refuses on the host network.
- loopback addresses: `http://kaigo-<component>[-headless]:50051` (cluster DNS) becomes
  `http://127.0.0.1:<port>`; the Secret's `database-url` and `redis-url` name the machine's.
- local image: `image` is the one built here, `imagePullPolicy: Never`.
- probes: podman has no gRPC probes, so each `grpc: {port, service}` probe becomes the exec
  probe kubelet's would be equivalent to: `kaigo health --endpoint http://127.0.0.1:<port> --service
  <service>` (the image has no shell; the binary is the probe).
- the Job (podman plays Pods and Deployments) becomes a Pod with its template's spec.
- token key: the gateway verifies tokens with a public key mounted read-only from the host
  (`auth.public_key_files`), since a cluster's JWKS URL is not reachable here.
- kinds podman does not play (Namespace, Service, NetworkPolicy, PodDisruptionBudget,
  ServiceAccount, HorizontalPodAutoscaler) are left out.

Writes DIR/migrate.yaml (the Job's pod), DIR/<component>.yaml (one Deployment each),
DIR/configmaps/<name>.yaml, DIR/secrets/<name>.json (for `podman secret create`), and DIR/plan.json (components, ports,
pod names, each probe's command) for scripts/image/pod-test.sh. --unknown-variable COMPONENT adds
KAIGO_<COMPONENT>__NO_SUCH_KEY=1 to that component's ConfigMap (the pod must then fail).
"""

import argparse
import base64
import json
import re
import sys
from pathlib import Path

import yaml

# The components are the manifests' Deployments (app.kubernetes.io/component); these are the
# ones the platform had when this was written, in the order the default ports follow.
KNOWN = ["gateway", "eligibility", "certification", "documents", "careplan", "subsidies"]
DROPPED = {"Namespace", "Service", "NetworkPolicy", "PodDisruptionBudget", "ServiceAccount", "HorizontalPodAutoscaler"}
KEY_MOUNT = "/etc/kaigo/auth"
KEY_FILE = "dev-signing-key.pub.pem"
BINARY = "/usr/local/bin/kaigo"


def component_of(obj):
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/component")


def components_of(docs):
    """The components the manifests deploy, services first and the gateway last (play order)."""
    found = [component_of(d) for d in docs if d["kind"] == "Deployment"]
    if "gateway" not in found:
        sys.exit("kube_adapt: the manifests have no gateway Deployment")
    return [c for c in found if c != "gateway"] + ["gateway"]


def cluster_urls(ports):
    """http://kaigo-<c>[-headless][.ns.svc…]:50051 → http://127.0.0.1:<port>."""
    pattern = re.compile(r"http://kaigo-(" + "|".join(map(re.escape, ports)) + r")(?:-headless)?(?:\.[a-z0-9.-]+)?:50051")
    return lambda s: pattern.sub(lambda m: f"http://127.0.0.1:{ports[m.group(1)]}", s)


def probe(p, port):
    if not p or "grpc" not in p:
        return p
    out = {k: v for k, v in p.items() if k != "grpc"}
    service = p["grpc"].get("service", "")
    command = [BINARY, "health", "--endpoint", f"http://127.0.0.1:{port}"]
    if service:
        command += ["--service", service]
    out["exec"] = {"command": command}
    return out


def adapt_pod_spec(spec, image, port, gateway):
    spec["hostNetwork"] = True
    for c in spec.get("containers", []):
        c["image"] = image
        c["imagePullPolicy"] = "Never"
        # podman turns `ports` into port mappings, which host networking refuses; on the host
        # network the port is the listen address's.
        c.pop("ports", None)
        if port is not None:
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                if kind in c:
                    c[kind] = probe(c[kind], port)
        if gateway:
            c.setdefault("volumeMounts", []).append({"name": "auth-key", "mountPath": KEY_MOUNT, "readOnly": True})
    if gateway:
        spec.setdefault("volumes", []).append(
            {"name": "auth-key", "hostPath": {"path": gateway, "type": "Directory"}}
        )
    return spec


def adapt(docs, image, ports, database_url, redis_url, key_dir, unknown=None):
    components = components_of(docs)
    missing = [c for c in components if c not in ports]
    if missing:
        sys.exit(f"kube_adapt: no port for {missing}")
    rewrite = cluster_urls(ports)
    out = {"configmaps": {}, "secrets": {}, "pods": {}}
    configmap_of = {}  # component -> its own ConfigMap name
    for d in docs:
        if d["kind"] == "ConfigMap" and component_of(d) in components:
            configmap_of[component_of(d)] = d["metadata"]["name"]
    for d in docs:
        kind = d["kind"]
        if kind in DROPPED:
            continue
        if kind == "ConfigMap":
            c = component_of(d)
            data = {k: rewrite(v) for k, v in (d.get("data") or {}).items()}
            if c in components:
                data["KAIGO_SERVER__LISTEN"] = f"127.0.0.1:{ports[c]}"
                if c == "gateway":
                    data["KAIGO_AUTH__PUBLIC_KEY_FILES"] = json.dumps([f"{KEY_MOUNT}/{KEY_FILE}"])
                if c == unknown:
                    data[f"KAIGO_{c.upper()}__NO_SUCH_KEY"] = "1"
            d["data"] = data
            out["configmaps"][d["metadata"]["name"]] = d
        elif kind == "Secret":
            data = dict(d.get("data") or {})
            for key, value in (d.pop("stringData", None) or {}).items():  # the API server's merge
                data[key] = base64.b64encode(str(value).encode()).decode()
            for key, value in (("database-url", database_url), ("redis-url", redis_url)):
                if key in data:
                    data[key] = base64.b64encode(value.encode()).decode()
            d["data"] = data
            out["secrets"][d["metadata"]["name"]] = d
        elif kind == "Deployment":
            c = component_of(d)
            d["spec"]["replicas"] = 1
            d["spec"].pop("strategy", None)
            spec = adapt_pod_spec(d["spec"]["template"]["spec"], image, ports[c], key_dir if c == "gateway" else None)
            if c == unknown:
                # The pod that must fail stays down: under `Always` podman restarts it at once, with
                # no back-off, so its exit code is visible only for moments and a poll can miss it.
                spec["restartPolicy"] = "Never"
            out["pods"][c] = d
        elif kind == "Job":
            template = d["spec"]["template"]
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": d["metadata"]["name"], "labels": template["metadata"].get("labels", {})},
                "spec": adapt_pod_spec(template["spec"], image, None, None),
            }
            out["pods"]["migrate"] = pod
        else:
            sys.exit(f"kube_adapt: no rule for kind {kind} ({d['metadata'].get('name')})")
    missing = [c for c in components + ["migrate"] if c not in out["pods"]]
    if missing:
        sys.exit(f"kube_adapt: the manifests have no pod for {missing}")
    return out, configmap_of


def plan(out, ports, order):
    components = {}
    for c in order + ["migrate"]:
        d = out["pods"][c]
        spec = d["spec"]["template"]["spec"] if d["kind"] == "Deployment" else d["spec"]
        container = spec["containers"][0]
        components[c] = {
            "kind": d["kind"],
            "name": d["metadata"]["name"],
            "container": container["name"],
            "port": ports.get(c),
            "probes": {
                k: container[k]["exec"]["command"]
                for k in ("startupProbe", "livenessProbe", "readinessProbe")
                if k in container and "exec" in container[k]
            },
        }
    return {
        "order": order,
        "components": components,
        "configmaps": sorted(out["configmaps"]),
        "secrets": sorted(out["secrets"]),
    }


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_ports(text, components):
    """`auto`: a free loopback port each; else component=port,… over the defaults (50051 the
    gateway, then 50052… in KNOWN's order, then the rest)."""
    order = [c for c in KNOWN if c in components] + [c for c in components if c not in KNOWN]
    if text == "auto":
        ports = {}
        while len(set(ports.values())) != len(components):
            ports = {c: free_port() for c in components}
        return ports
    ports = {c: 50051 + i for i, c in enumerate(order)}
    for item in filter(None, (text or "").split(",")):
        name, _, value = item.partition("=")
        if name not in ports:
            sys.exit(f"kube_adapt: --ports names a component the manifests do not deploy: {name!r}")
        ports[name] = int(value)
    if len(set(ports.values())) != len(ports):
        sys.exit(f"kube_adapt: two components share a port: {ports}")
    return ports


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifests", help="rendered manifests (YAML stream), or - for standard input")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--image", required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--redis-url", required=True)
    ap.add_argument("--key-dir", required=True, help=f"host directory holding {KEY_FILE}")
    ap.add_argument("--ports", help="auto (free loopback ports), or component=port,… (default: the gateway "
                    "50051, the services from 50052)")
    ap.add_argument("--unknown-variable", metavar="COMPONENT")
    args = ap.parse_args(argv)

    text = sys.stdin.read() if args.manifests == "-" else Path(args.manifests).read_text()
    docs = [d for d in yaml.safe_load_all(text) if d]
    order = components_of(docs)
    if args.unknown_variable and args.unknown_variable not in order:
        sys.exit(f"kube_adapt: --unknown-variable {args.unknown_variable}: not a component of the manifests")
    ports = parse_ports(args.ports, order)
    out, _ = adapt(docs, args.image, ports, args.database_url, args.redis_url, args.key_dir, args.unknown_variable)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "configmaps").mkdir(exist_ok=True)
    for name, d in out["configmaps"].items():
        (args.out / "configmaps" / f"{name}.yaml").write_text(yaml.safe_dump(d, sort_keys=False, allow_unicode=True))
    # podman resolves secretKeyRef from its secret store, whose entries it reads as a JSON
    # object of base64 values: the Secret's `data`, as is.
    (args.out / "secrets").mkdir(exist_ok=True)
    for name, d in out["secrets"].items():
        (args.out / "secrets" / f"{name}.json").write_text(json.dumps(d["data"], indent=1, sort_keys=True) + "\n")
    for c, d in out["pods"].items():
        (args.out / f"{c}.yaml").write_text(yaml.safe_dump(d, sort_keys=False, allow_unicode=True))
    (args.out / "plan.json").write_text(json.dumps(plan(out, ports, order), indent=1) + "\n")


if __name__ == "__main__":
    main()
