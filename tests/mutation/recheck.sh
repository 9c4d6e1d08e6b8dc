#!/usr/bin/env bash
# Re-run named mutants (e.g. the missed ones of an earlier run) on the current sources.
#
#   tests/mutation/recheck.sh MISSED.txt [OUT]
#
# Each line of MISSED.txt is a cargo-mutants name (`file:line:col: description`); line and
# column are matched loosely, since the code above a mutant may have moved since. A name
# that matches nothing now (the code was removed) is listed as such. Same build profile and
# test command as run.sh; needs a clean checkout of its own (cargo-mutants edits in place).
set -euo pipefail
cd "$(dirname "$0")/../.."
list="${1:?usage: recheck.sh MISSED.txt [OUT]}"
out="${2:-target/mutation-recheck}"
[ -r "$list" ] || { echo "$list: cannot read the list of mutants" >&2; exit 2; }
mkdir -p "$out"
cargo mutants --list -f 'src/device/**' -f 'src/protocol/**' >"$out/now.txt"
args=()
while IFS= read -r name; do
  [ -n "$name" ] || continue
  re=$(python3 -c 'import re,sys; f,_,_,d=sys.argv[1].split(":",3); print("^"+re.escape(f)+r":[0-9]+:[0-9]+:"+re.escape(d)+"$")' "$name")
  if grep -qE "$re" "$out/now.txt"; then
    args+=(--re "$re")
  else
    echo "no longer exists (code removed): $name"
  fi
done <"$list"
[ ${#args[@]} -gt 0 ] || { echo "none of the mutants exists any more"; exit 0; }
cargo mutants --in-place --profile mutants --output "$out" -f 'src/device/**' -f 'src/protocol/**' \
  "${args[@]}" --timeout-multiplier 3 -C --lib -C --test=conformance || true
python3 tests/mutation/score.py "$out/mutants.out"
