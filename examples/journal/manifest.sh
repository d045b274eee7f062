#!/usr/bin/env bash
# The roadmap's graph store (cdagTopology) hydrated by manifest (docs/sync.md, "Large stores:
# manifests"), through a real cairnd: a second device hydrates it from the manifest, does not
# refresh it within its TTL (the change feed leaves it out), and after the TTL fetches only the
# chunk that changed. The TTL is 1 second here (JOURNAL_GRAPH_TTL) rather than 30 minutes.
#   examples/journal/manifest.sh PREFIX EXAMPLES_BUILD
# PREFIX holds the installed cairn and cairnd (bin/); EXAMPLES_BUILD is where examples/ was built.
set -euo pipefail
prefix=$1
app=$2/journal/journal_example
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
export JOURNAL_GRAPH_TTL=1

source "$(dirname "$0")/../start-cairnd.sh"
start_cairnd "$prefix" "$work"

# A phone writes a day (four graph entries among the rest) and syncs.
"$app" "$work/phone.db" >/dev/null
"$app" "$work/phone.db" sync "$url"
token=$("$prefix/bin/cairn" status "$work/phone.db" --show-token)

# A laptop joins: the graph arrives from its manifest, one chunk per entry.
echo "laptop, first sync:"
"$app" "$work/laptop.db" sync "$url" "$token" | tee "$work/out"
grep -q "graph refreshed from its manifest: 4 chunks fetched" "$work/out"

# The phone adds a node. Within the TTL the laptop does not ask for the manifest again.
"$app" "$work/phone.db" node node:swimming Swimming
"$app" "$work/phone.db" sync "$url"
echo "laptop, within the TTL:"
"$app" "$work/laptop.db" sync "$url" "$token" | tee "$work/out"
grep -q "graph within its TTL: not refreshed" "$work/out"
! "$app" "$work/laptop.db" graph | grep -q node:swimming

# After the TTL: the manifest's changes, and only the new chunk.
sleep 1.2  # the TTL passing, in real time: nothing else is waited for
echo "laptop, after the TTL:"
"$app" "$work/laptop.db" sync "$url" "$token" | tee "$work/out"
grep -q "graph refreshed from its manifest: 1 chunks fetched" "$work/out"
"$app" "$work/laptop.db" graph
"$app" "$work/laptop.db" graph | grep -q node:swimming
echo "the laptop refreshed the graph after its TTL, fetching only the chunk that changed"
