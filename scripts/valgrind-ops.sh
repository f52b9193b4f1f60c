#!/bin/sh
# Memcheck of the addon on the CPU paths (issue 9): every structure method and categorical op, sync and async, called
# a few times (test/hardening/memory.ts --calls 2) under valgrind. Prints the leak summary and the loss records whose
# stacks pass through latent_struct.node (ours); the rest is Node's and V8's. Takes about 7 minutes.
# Usage: sh scripts/valgrind-ops.sh [log file]
set -e
log="${1:-valgrind-ops.log}"
cd "$(dirname "$0")/.."
valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible --num-callers=40 --log-file="$log" \
  node --expose-gc -r ./test/support/register_ts.js test/hardening/memory.ts --calls 2 --bound-mib 1000 > /dev/null
grep -A6 'LEAK SUMMARY' "$log"
echo "loss records through latent_struct.node: $(awk '/are (definitely|indirectly|possibly) lost/{r=1; s=""} r{s=s $0 "\n"} /^==[0-9]+== $/{if (r && s ~ /latent_struct.node/) n++; r=0} END{print n+0}' "$log")"
