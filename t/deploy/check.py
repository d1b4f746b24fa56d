#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Checks deploy/: the Compose file, the Kubernetes manifests and the start script.

No container engine or Kubernetes API server runs here, so nothing is
deployed.  What is checked instead:
  - every YAML file parses (python3-yaml);
  - `kubectl kustomize deploy/kubernetes` renders (offline), and the objects
    hold together: selectors match pod labels, Services point at named
    container ports, the StatefulSet's serviceName is a headless Service,
    every Secret/key a pod uses is in secret.example.yaml, every volumeMount
    has a volume, probes name real ports;
  - the Compose file's services, secrets, volumes, depends_on and
    network_mode point at things it defines, and build files exist;
  - deploy/gotunnel-start.sh writes a configuration that the real
    gotunnel-master and gotunnel-admin accept (-t), mode 600, with the token
    from the file and no [cluster] without a database URL.
`kubectl apply --dry-run=client` is not run: it needs an API server.
Ends with "N passed, N failed".
"""

import os
import shutil
import stat
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
_bin = os.environ.get("GOTUNNEL_BIN", "bin")
BIN = _bin if os.path.isabs(_bin) else os.path.join(ROOT, _bin)
RESULTS = []


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def test(fn):
    RESULTS.append(fn)
    return fn


def yaml_files():
    out = []
    for d, _, files in os.walk(DEPLOY):
        out += [os.path.join(d, f) for f in files if f.endswith((".yml", ".yaml"))]
    return sorted(out)


@test
def yaml_parses():
    files = yaml_files()
    check(len(files) >= 6, "expected the compose file and the manifests, found %r" % files)
    for f in files:
        with open(f) as fh:
            docs = [d for d in yaml.safe_load_all(fh) if d is not None]
        check(docs, "%s holds no document" % f)
    return "%d files" % len(files)


def rendered():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        # Without kubectl: the resources listed in kustomization.yaml, as is.
        with open(os.path.join(DEPLOY, "kubernetes", "kustomization.yaml")) as f:
            k = yaml.safe_load(f)
        docs = []
        for r in k["resources"]:
            with open(os.path.join(DEPLOY, "kubernetes", r)) as f:
                docs += [d for d in yaml.safe_load_all(f) if d]
        return docs, "resources read directly (no kubectl)"
    r = subprocess.run([kubectl, "kustomize", os.path.join(DEPLOY, "kubernetes")],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "kubectl kustomize failed: %s" % r.stderr[-500:])
    return [d for d in yaml.safe_load_all(r.stdout) if d], "kubectl kustomize"


def pod_specs(objs):
    """(workload, pod template) of every Deployment/StatefulSet."""
    return [(o, o["spec"]["template"]) for o in objs if o["kind"] in ("Deployment", "StatefulSet")]


@test
def kubernetes_objects():
    objs, how = rendered()
    kinds = sorted(o["kind"] for o in objs)
    for want in ("Deployment", "Namespace", "Service", "StatefulSet"):
        check(want in kinds, "no %s in the manifests (have %r)" % (want, kinds))
    with open(os.path.join(DEPLOY, "kubernetes", "secret.example.yaml")) as f:
        secrets = {d["metadata"]["name"]: set((d.get("stringData") or d.get("data") or {}).keys())
                   for d in yaml.safe_load_all(f) if d}
    for o in objs:
        check(o.get("apiVersion") and o.get("kind") and o.get("metadata", {}).get("name"),
              "object without apiVersion/kind/name: %r" % o)
        if o["kind"] != "Namespace":
            check(o["metadata"].get("namespace") == "gotunnel", "%s %s not in namespace gotunnel"
                  % (o["kind"], o["metadata"]["name"]))
    services = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Service"}
    for w, tpl in pod_specs(objs):
        name = "%s %s" % (w["kind"], w["metadata"]["name"])
        labels = tpl["metadata"]["labels"]
        sel = w["spec"]["selector"]["matchLabels"]
        check(all(labels.get(k) == v for k, v in sel.items()), "%s: selector %r does not match its pods %r"
              % (name, sel, labels))
        spec = tpl["spec"]
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        claims = {c["metadata"]["name"] for c in w["spec"].get("volumeClaimTemplates", [])}
        for v in vols.values():
            if "secret" in v:
                check(v["secret"]["secretName"] in secrets or v["secret"]["secretName"] == "gotunnel-admin-tls",
                      "%s: volume %s uses unknown Secret %s" % (name, v["name"], v["secret"]["secretName"]))
        for c in spec["containers"]:
            ports = {p["name"] for p in c.get("ports", [])}
            check(c.get("image"), "%s/%s has no image" % (name, c["name"]))
            for m in c.get("volumeMounts", []):
                check(m["name"] in vols or m["name"] in claims, "%s/%s mounts unknown volume %s"
                      % (name, c["name"], m["name"]))
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    check(ref["name"] in secrets and ref["key"] in secrets[ref["name"]],
                          "%s/%s: env %s uses Secret %s key %s, not in secret.example.yaml"
                          % (name, c["name"], e["name"], ref["name"], ref["key"]))
            for pn in ("livenessProbe", "readinessProbe"):
                p = c.get(pn)
                if c["name"] in ("master", "admin"):
                    check(p, "%s/%s has no %s" % (name, c["name"], pn))
                if p and "httpGet" in p:
                    check(p["httpGet"]["port"] in ports, "%s/%s: %s port %s is not a container port"
                          % (name, c["name"], pn, p["httpGet"]["port"]))
                    check(p["httpGet"]["path"] == "/healthz", "%s/%s: %s is not /healthz" % (name, c["name"], pn))
                if p and "exec" in p:
                    check(p["exec"]["command"][:1] == ["gotunnelctl"] and "status" in p["exec"]["command"],
                          "%s/%s: %s should run gotunnelctl status" % (name, c["name"], pn))
        if w["kind"] == "StatefulSet":
            svc = services.get(w["spec"]["serviceName"])
            check(svc is not None and svc["spec"].get("clusterIP") == "None",
                  "StatefulSet serviceName %s is not a headless Service" % w["spec"]["serviceName"])
    for sname, s in services.items():
        matched = [(w, tpl) for w, tpl in pod_specs(objs)
                   if all(tpl["metadata"]["labels"].get(k) == v for k, v in s["spec"]["selector"].items())]
        check(matched, "Service %s selects no pods" % sname)
        for p in s["spec"]["ports"]:
            tp = p.get("targetPort", p["port"])
            names = {cp.get("name") for _, tpl in matched for c in tpl["spec"]["containers"]
                     for cp in c.get("ports", [])}
            nums = {cp["containerPort"] for _, tpl in matched for c in tpl["spec"]["containers"]
                    for cp in c.get("ports", [])}
            check(tp in names or tp in nums, "Service %s port %s: no container port %r" % (sname, p["port"], tp))
    # The client discovers the masters through the headless Service's name.
    dep = [w for w, _ in pod_specs(objs) if w["kind"] == "Deployment"][0]
    args = [a for c in dep["spec"]["template"]["spec"]["containers"] for a in c.get("args", [])]
    check("--server" in args and args[args.index("--server") + 1].startswith("gotunnel-master.gotunnel.svc"),
          "the client Deployment does not use the headless Service's name: %r" % args)
    return "%d objects via %s" % (len(objs), how)


@test
def compose_file():
    path = os.path.join(DEPLOY, "docker-compose.yml")
    with open(path) as f:
        c = yaml.safe_load(f)
    svcs = c["services"]
    for want in ("postgres", "master1", "master2", "admin", "client"):
        check(want in svcs, "docker-compose.yml has no service %s" % want)
    for name, s in svcs.items():
        check(s.get("image") or s.get("build"), "service %s has neither image nor build" % name)
        for sec in s.get("secrets", []):
            check(sec in c.get("secrets", {}), "service %s uses undefined secret %s" % (name, sec))
        for v in s.get("volumes", []):
            src = v.split(":")[0]
            if not src.startswith((".", "/")):
                check(src in c.get("volumes", {}), "service %s uses undefined volume %s" % (name, src))
            else:
                check(os.path.exists(os.path.join(DEPLOY, src)), "service %s mounts missing %s" % (name, src))
        dep = s.get("depends_on", [])
        for d in (dep.keys() if isinstance(dep, dict) else dep):
            check(d in svcs, "service %s depends on unknown %s" % (name, d))
        nm = s.get("network_mode", "")
        if nm.startswith("service:"):
            check(nm[8:] in svcs, "service %s: network_mode names unknown %s" % (name, nm))
        b = s.get("build")
        if b:
            ctx = os.path.normpath(os.path.join(DEPLOY, b["context"]))
            check(os.path.exists(os.path.join(ctx, b["dockerfile"])), "service %s: %s missing" % (name, b["dockerfile"]))
    for m in ("master1", "master2"):
        env = svcs[m]["environment"]
        check(env.get("GOTUNNEL_DATABASE_URL_FILE") and env.get("GOTUNNEL_NODE_NAME"), "%s lacks cluster settings" % m)
        check(svcs[m].get("healthcheck", {}).get("test", [])[1:2] == ["gotunnelctl"], "%s: no status healthcheck" % m)
    cmd = svcs["client"]["command"]
    check(cmd[cmd.index("--server") + 1] == "master1:7000,master2:7000", "client is not on both masters: %r" % cmd)
    for sec in c["secrets"].values():
        check(sec["file"].startswith("./secrets/"), "secret file outside deploy/secrets: %r" % sec)
    # Files the Dockerfiles copy from the tree.
    for f in ("frontend/package.json", "frontend/package-lock.json", "deploy/gotunnel-start.sh"):
        check(os.path.exists(os.path.join(ROOT, f)), "deploy/docker/Dockerfile copies missing %s" % f)
    return "%d services" % len(svcs)


def start_script(tmp, role, extra_env, check_flag=True):
    env = {"PATH": BIN + ":/usr/bin:/bin", "GOTUNNEL_TOKEN_FILE": os.path.join(tmp, "token"),
           "GOTUNNEL_CONF": os.path.join(tmp, role, "gotunnel.ini"), "GOTUNNEL_DATA_DIR": os.path.join(tmp, "data")}
    env.update(extra_env)
    argv = ["sh", os.path.join(DEPLOY, "gotunnel-start.sh"), role] + (["-t"] if check_flag else [])
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env), env["GOTUNNEL_CONF"]


@test
def start_script_writes_valid_config():
    for b in ("gotunnel-master", "gotunnel-admin"):
        check(os.access(os.path.join(BIN, b), os.X_OK), "%s/%s missing (make c admin)" % (BIN, b))
    tmp = tempfile.mkdtemp(prefix="gtdeploy-")
    try:
        tok = "tok-" + os.urandom(12).hex()
        with open(os.path.join(tmp, "token"), "w") as f:
            f.write(tok + "\n")
        r, conf = start_script(tmp, "master", {"GOTUNNEL_ALLOW_PORTS": "20000-20010"})
        check(r.returncode == 0 and "configuration OK" in r.stdout, "master -t: %r %r" % (r.stdout, r.stderr))
        check(stat.S_IMODE(os.stat(conf).st_mode) == 0o600, "config mode %o, want 600" % os.stat(conf).st_mode)
        text = open(conf).read()
        check("token = %s\n" % tok in text and "allow_ports = 20000-20010" in text and "[cluster]" not in text,
              "unexpected config: %r" % text.replace(tok, "TOKEN"))
        check(tok not in r.stdout + r.stderr, "the token was printed")
        r, conf = start_script(tmp, "admin", {})
        check(r.returncode == 0, "admin -t: %r %r" % (r.stdout, r.stderr))
        check("bind_addr = 127.0.0.1" in open(conf).read(), "admin without TLS must stay on loopback")
        # With a database URL: a [cluster] section with node and address.
        r, conf = start_script(tmp, "master", {"GOTUNNEL_DATABASE_URL": "postgresql://gotunnel@db/gotunnel",
                                               "GOTUNNEL_NODE_NAME": "m-0", "GOTUNNEL_ADVERTISE_ADDR": "10.0.0.5"})
        text = open(conf).read()
        check("[cluster]\ndatabase = postgresql://gotunnel@db/gotunnel\nnode_name = m-0\n"
              "advertise_addr = 10.0.0.5\nnode_timeout = 15s\n" in text, "cluster section: %r" % text.replace(tok, "T"))
        note = "master -t accepts [cluster]" if r.returncode == 0 else \
            "master -t of the [cluster] variant: %s" % (r.stderr.strip()[-120:] or r.stdout.strip()[-120:])
        if r.returncode != 0:
            check("cluster" in r.stderr, "master -t with [cluster] failed for another reason: %r" % r.stderr)
        r, _ = start_script(tmp, "master", {"GOTUNNEL_TOKEN_FILE": os.path.join(tmp, "missing")})
        check(r.returncode == 1 and "token file" in r.stderr, "missing token file: %r" % r.stderr)
        return note
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    passed = failed = 0
    for fn in RESULTS:
        name = fn.__name__
        try:
            note = fn()
            print("ok %s%s" % (name, " [%s]" % note if note else ""), flush=True)
            passed += 1
        except Exception as e:  # noqa: BLE001 - reported as the test's failure
            print("FAIL %s: %s" % (name, e), flush=True)
            failed += 1
    print("# not run: kubectl apply --dry-run=client (needs an API server), docker compose (no engine)")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
