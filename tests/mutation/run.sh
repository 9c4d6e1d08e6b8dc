#!/usr/bin/env bash
# Mutation score of the suite over the device core and the protocols (docs/mutation.md).
#
# Lists the mutants of src/device and src/protocol with cargo-mutants, draws a seeded sample
# stratified by file (tests/mutation/sample.py), and runs cargo-mutants on that sample alone:
# in place (no copy of the tree), with the light `mutants` build profile, the test command
# being the unit tests and the virtual conformance suite. Prints the score and its 95 %
# Wilson interval (tests/mutation/score.py).
#
#   tests/mutation/run.sh [SEED] [SIZE]      defaults: 20261204 180
#
# Needs cargo-mutants (`cargo install cargo-mutants --locked`); takes about an hour on 2 cores.
# Run it in a clean checkout of its own: cargo-mutants edits the sources in place while it runs
# (it puts them back), so do not edit that checkout meanwhile.
set -euo pipefail
cd "$(dirname "$0")/../.."
seed="${1:-20261204}"
size="${2:-180}"
out="${MUTANTS_OUT:-target/mutation}"
command -v cargo-mutants >/dev/null || {
  echo "cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
  exit 2
}
if ! git diff --quiet -- src; then
  echo "src/ has uncommitted changes: run this on a clean checkout (cargo-mutants edits in place)" >&2
  exit 2
fi
mkdir -p "$out"
files=(-f 'src/device/**' -f 'src/protocol/**')
cargo mutants --list --json "${files[@]}" >"$out/list.json"
python3 tests/mutation/sample.py "$out/list.json" --seed "$seed" --size "$size" --out "$out"
args=()
while IFS= read -r re; do args+=(--re "$re"); done <"$out/sample.re"
start=$(date +%s)
cargo mutants --in-place --profile mutants --output "$out" "${files[@]}" "${args[@]}" \
  --timeout-multiplier 3 -C --lib -C --test=conformance || true
end=$(date +%s)
n=$(wc -l <"$out/sample.txt")
echo "$n mutants in $((end - start)) s: $(((end - start) / n)) s per mutant (target ≤ 25 s)"
python3 tests/mutation/score.py "$out/mutants.out"
