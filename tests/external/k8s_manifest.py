"""What a schema check cannot see in deploy/kubernetes/ (called by k8s_manifest.sh).

Usage: k8s_manifest.py MANIFEST_DIR [FLEET_HELP_FILE]

Checks, with PyYAML only:
  - every document has apiVersion, kind, metadata.name; everything but the Namespace is in
    the namespace a file there creates;
  - the Indexed Job: completionMode Indexed, restartPolicy Never, its container runs `fleet`
    with `--shard=$(JOB_COMPLETION_INDEX)/N` where N = completions = parallelism;
  - every $(VAR) in the container's args is an env variable of that container (Kubernetes
    leaves an undefined one as literal text, so the shard would get "$(X)/10");
  - every ConfigMap / Secret key the pod uses is defined in the directory, and the
    `--broker-ca` file lies in a mounted volume holding that key;
  - with FLEET_HELP_FILE (the output of `smart-connect-sim fleet --help`): every `--option`
    in the args is one the command knows.
Prints one `ok:`/`FAILED:` line per check and `consistency: N passed, N failed`; exit 1 on
any failure.
"""

import pathlib
import re
import sys

import yaml

checks = {"passed": 0, "failed": 0}


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    checks["passed" if ok else "failed"] += 1


def load(manifest_dir):
    docs = []
    for path in sorted(pathlib.Path(manifest_dir).glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path.name, doc))
    return docs


def arg_options(args):
    """`--name=value` / `--name value` pairs of a container's args, in order."""
    out = []
    i = 0
    while i < len(args):
        a = str(args[i])
        if a.startswith("--"):
            if "=" in a:
                name, value = a.split("=", 1)
            elif i + 1 < len(args) and not str(args[i + 1]).startswith("--"):
                name, value = a, str(args[i + 1])
                i += 1
            else:
                name, value = a, None
            out.append((name, value))
        i += 1
    return out


def check_job(job, objects, help_text):
    name = job["metadata"]["name"]
    spec = job["spec"]
    pod = spec["template"]["spec"]
    check(spec.get("completionMode") == "Indexed", f"job/{name}: completionMode Indexed")
    check(pod.get("restartPolicy") == "Never", f"job/{name}: restartPolicy Never")
    fleet = [c for c in pod["containers"] if (c.get("args") or [None])[0] == "fleet"]
    check(len(fleet) == 1, f"job/{name}: one container runs `fleet`")
    if not fleet:
        return
    c = fleet[0]
    opts = arg_options(c["args"][1:])
    values = dict(opts)
    shard = values.get("--shard")
    m = re.fullmatch(r"\$\(JOB_COMPLETION_INDEX\)/(\d+)", shard or "")
    check(m is not None, f"job/{name}: --shard is $(JOB_COMPLETION_INDEX)/N (got {shard!r})")
    if m:
        n = int(m.group(1))
        completions, parallelism = spec.get("completions"), spec.get("parallelism")
        check(
            completions == n and parallelism == n,
            f"job/{name}: completions ({completions}) = parallelism ({parallelism}) = N of --shard ({n})",
        )
    env = {e["name"]: e for e in c.get("env", [])}
    used = sorted({v for a in c["args"] for v in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(a))})
    missing = [v for v in used if v not in env]
    check(not missing, f"job/{name}: $(VAR)s in args defined in env: {used} (missing {missing})")
    for want in ("--devices", "--mqtt"):
        check(values.get(want) is not None, f"job/{name}: {want} given")

    ns = job["metadata"].get("namespace")
    refs = []
    for e in c.get("env", []):
        for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            ref = (e.get("valueFrom") or {}).get(key)
            if ref:
                refs.append((kind, ref["name"], ref["key"]))
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"].rstrip("/"): m for m in c.get("volumeMounts", [])}
    for v in volumes.values():
        for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
            src = v.get(key)
            if src:
                name_key = "name" if kind == "ConfigMap" else "secretName"
                keys = [i["key"] for i in src.get("items", [])] or [None]
                refs.extend((kind, src[name_key], k) for k in keys)
    for kind, obj_name, key in refs:
        obj = objects.get((kind, ns, obj_name))
        have = set((obj or {}).get("data") or {}) | set((obj or {}).get("stringData") or {})
        ok = obj is not None and (key is None or key in have)
        check(ok, f"job/{name}: {kind.lower()}/{obj_name}" + (f" key {key}" if key else "") + " defined here")

    ca = values.get("--broker-ca")
    if ca:
        d, _, file = ca.rpartition("/")
        m = mounts.get(d)
        v = volumes.get(m["name"]) if m else None
        src = (v or {}).get("configMap") or (v or {}).get("secret")
        obj = None
        if src:
            kind = "ConfigMap" if "configMap" in v else "Secret"
            obj = objects.get((kind, ns, src.get("name") or src.get("secretName")))
        have = set((obj or {}).get("data") or {}) | set((obj or {}).get("stringData") or {})
        check(
            m is not None and m.get("readOnly") is True and file in have,
            f"job/{name}: --broker-ca {ca} is key {file!r} of a read-only mounted volume",
        )

    if help_text is not None:
        known = set(re.findall(r"--[a-z][a-z0-9-]*", help_text))
        unknown = [o for o, _ in opts if o not in known]
        check(not unknown, f"job/{name}: every option is one `fleet --help` lists (unknown: {unknown})")


def main():
    manifest_dir = sys.argv[1]
    help_text = pathlib.Path(sys.argv[2]).read_text() if len(sys.argv) > 2 else None
    docs = load(manifest_dir)
    check(len(docs) > 0, f"{manifest_dir}: {len(docs)} documents")
    for file, doc in docs:
        meta = doc.get("metadata") or {}
        check(
            bool(doc.get("apiVersion") and doc.get("kind") and meta.get("name")),
            f"{file}: {doc.get('kind')}/{meta.get('name')} has apiVersion, kind, metadata.name",
        )
    namespaces = {d["metadata"]["name"] for _, d in docs if d.get("kind") == "Namespace"}
    for file, doc in docs:
        if doc.get("kind") != "Namespace":
            ns = (doc.get("metadata") or {}).get("namespace")
            check(ns in namespaces, f"{file}: {doc.get('kind')}/{doc['metadata'].get('name')} in a namespace created here ({ns})")
    objects = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for _, d in docs}
    jobs = [d for _, d in docs if d.get("kind") == "Job"]
    check(len(jobs) == 1, f"one Job ({len(jobs)})")
    for job in jobs:
        check_job(job, objects, help_text)
    print(f"consistency: {checks['passed']} passed, {checks['failed']} failed")
    sys.exit(1 if checks["failed"] else 0)


if __name__ == "__main__":
    main()
