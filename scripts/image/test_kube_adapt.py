#!/usr/bin/env python3
"""Tests of scripts/image/kube_adapt.py on the real dev overlay (needs kubectl, not podman).

    python3 -m unittest scripts/image/test_kube_adapt.py      (make image-check)

The adaptation may change only what one machine requires (host network, loopback addresses
and ports, the local image, exec probes for gRPC probes, the Job as a Pod, the gateway's token
key); everything else a pod runs with must be exactly the overlay's.
"""

import base64
import copy
import subprocess
import sys
import unittest
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kube_adapt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
def rendered():
    text = subprocess.run(["kubectl", "kustomize", str(ROOT / "k8s/overlays/dev")], check=True,
                          capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(text) if d]


DOCS = rendered()
COMPONENTS = kube_adapt.components_of(DOCS)
PORTS = {c: 41001 + i for i, c in enumerate(COMPONENTS)}
SERVICES = [c for c in COMPONENTS if c != "gateway"]
DB = "postgres://postgres@127.0.0.1:5432/kaigo_image_test"
REDIS = "redis://127.0.0.1:41999"


def strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


class AdaptDevOverlay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.original = copy.deepcopy(DOCS)
        cls.out, _ = kube_adapt.adapt(copy.deepcopy(cls.original), "localhost/kaigo:test", PORTS, DB, REDIS,
                                      "/keys")
        cls.by_kind = {}
        for d in cls.original:
            cls.by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d

    def pod_spec(self, component):
        d = self.out["pods"][component]
        return d["spec"]["template"]["spec"] if d["kind"] == "Deployment" else d["spec"]

    def original_spec(self, component):
        if component == "migrate":
            return next(iter(self.by_kind["Job"].values()))["spec"]["template"]["spec"]
        return self.by_kind["Deployment"][f"kaigo-{component}"]["spec"]["template"]["spec"]

    def test_every_component_and_the_migration_become_pods(self):
        self.assertEqual(sorted(self.out["pods"]), sorted(list(PORTS) + ["migrate"]))
        self.assertEqual(self.out["pods"]["migrate"]["kind"], "Pod")
        self.assertEqual(self.pod_spec("migrate")["restartPolicy"], "Never")

    def test_only_what_one_machine_needs_changes(self):
        allowed = {"hostNetwork", "volumes"}
        for component in list(PORTS) + ["migrate"]:
            before, after = self.original_spec(component), self.pod_spec(component)
            self.assertTrue(after["hostNetwork"])
            for key in set(before) | set(after):
                if key in allowed or key == "containers":
                    continue
                self.assertEqual(before.get(key), after.get(key), f"{component}: spec.{key} changed")
            (b,), (a,) = before["containers"], after["containers"]
            self.assertEqual(a["image"], "localhost/kaigo:test")
            self.assertEqual(a["imagePullPolicy"], "Never")
            for key in ("args", "env", "envFrom", "securityContext", "resources", "command", "name"):
                self.assertEqual(b.get(key), a.get(key), f"{component}: container {key} changed")
            mounts = [m for m in a.get("volumeMounts", []) if m["name"] != "auth-key"]
            self.assertEqual(b.get("volumeMounts", []), mounts, f"{component}: mounts changed")
            self.assertEqual(before.get("volumes"), [v for v in after.get("volumes", []) if v["name"] != "auth-key"])
            if component == "gateway":
                key_mount = [m for m in a["volumeMounts"] if m["name"] == "auth-key"]
                self.assertEqual(key_mount, [{"name": "auth-key", "mountPath": "/etc/kaigo/auth", "readOnly": True}])

    def test_each_component_has_its_own_loopback_port_and_probes_on_it(self):
        for component, port in PORTS.items():
            (container,) = self.pod_spec(component)["containers"]
            (original,) = self.original_spec(component)["containers"]
            self.assertNotIn("ports", container)  # podman would map them; host networking refuses
            self.assertEqual([p["containerPort"] for p in original["ports"]], [50051])
            own = next(cm for cm in self.out["configmaps"].values()
                       if cm["metadata"]["labels"]["app.kubernetes.io/component"] == component)
            self.assertEqual(own["data"]["KAIGO_SERVER__LISTEN"], f"127.0.0.1:{port}")
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                grpc = original[kind]["grpc"]
                self.assertEqual(container[kind]["exec"]["command"],
                                 ["/usr/local/bin/kaigo", "health", "--endpoint", f"http://127.0.0.1:{port}",
                                  "--service", grpc["service"]])
                timing = {k: v for k, v in original[kind].items() if k != "grpc"}
                self.assertEqual({k: v for k, v in container[kind].items() if k != "exec"}, timing)
        # the component ConfigMaps come after the shared one in envFrom, so their LISTEN wins
        for component in PORTS:
            refs = [e["configMapRef"]["name"] for e in self.pod_spec(component)["containers"][0]["envFrom"]]
            self.assertTrue(refs[0].startswith("kaigo-config-"), refs)

    def test_no_cluster_address_is_left(self):
        for d in list(self.out["configmaps"].values()) + list(self.out["pods"].values()):
            for s in strings(d):
                self.assertNotIn("-headless", s)
                self.assertNotIn(".svc", s)
        gateway = next(cm for cm in self.out["configmaps"].values()
                       if cm["metadata"]["labels"]["app.kubernetes.io/component"] == "gateway")
        for c in SERVICES:
            self.assertEqual(gateway["data"][f"KAIGO_GATEWAY__UPSTREAMS__{c.upper()}"], f"http://127.0.0.1:{PORTS[c]}")
        self.assertEqual(gateway["data"]["KAIGO_AUTH__PUBLIC_KEY_FILES"], '["/etc/kaigo/auth/dev-signing-key.pub.pem"]')

    def test_the_secret_changes_only_in_its_two_addresses(self):
        (original,) = self.by_kind["Secret"].values()
        (adapted,) = self.out["secrets"].values()
        decode = lambda d: {k: base64.b64decode(v).decode() for k, v in d["data"].items()}  # noqa: E731
        before, after = decode(original), decode(adapted)
        self.assertEqual(after["database-url"], DB)
        self.assertEqual(after["redis-url"], REDIS)
        for key in set(before) - {"database-url", "redis-url"}:
            self.assertEqual(before[key], after[key], key)

    def test_kinds_podman_does_not_play_are_left_out(self):
        kinds = {d["kind"] for d in self.out["pods"].values()}
        self.assertEqual(kinds, {"Deployment", "Pod"})
        self.assertNotIn("Namespace", {d["kind"] for d in self.out["configmaps"].values()})

    def test_an_unknown_variable_goes_only_into_that_components_configmap(self):
        out, _ = kube_adapt.adapt(copy.deepcopy(self.original), "i", PORTS, DB, REDIS, "/k", "subsidies")
        added = {name: set(cm["data"]) - set(self.out["configmaps"][name]["data"]) for name, cm in out["configmaps"].items()}
        self.assertEqual({n: a for n, a in added.items() if a},
                         {next(n for n in out["configmaps"] if n.startswith("kaigo-subsidies-")): {"KAIGO_SUBSIDIES__NO_SUCH_KEY"}})

    def test_the_pod_that_must_fail_is_not_restarted(self):
        out, _ = kube_adapt.adapt(copy.deepcopy(self.original), "i", PORTS, DB, REDIS, "/k", "subsidies")
        policy = lambda c: out["pods"][c]["spec"]["template"]["spec"].get("restartPolicy")
        self.assertEqual(policy("subsidies"), "Never")
        self.assertNotEqual(policy("eligibility"), "Never")

    def test_the_platforms_components_are_all_deployed(self):
        for c in kube_adapt.KNOWN:
            self.assertIn(c, COMPONENTS)
        self.assertEqual(COMPONENTS[-1], "gateway")

    def test_ports_default_auto_and_distinct(self):
        defaults = kube_adapt.parse_ports("", COMPONENTS)
        self.assertEqual(defaults["gateway"], 50051)
        self.assertEqual(len(set(defaults.values())), len(COMPONENTS))
        auto = kube_adapt.parse_ports("auto", COMPONENTS)
        self.assertEqual(sorted(auto), sorted(COMPONENTS))
        self.assertEqual(len(set(auto.values())), len(COMPONENTS))
        with self.assertRaises(SystemExit):
            kube_adapt.parse_ports("gateway=50052", COMPONENTS)
        with self.assertRaises(SystemExit):
            kube_adapt.parse_ports("nosuch=1", COMPONENTS)


if __name__ == "__main__":
    unittest.main()
