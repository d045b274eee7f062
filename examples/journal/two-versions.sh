#!/usr/bin/env bash
# Two releases of one application sync one dataset (docs/migrations.md, "Old and new apps at
# once"): journal_example (version 1) and journal_example_v2 (schema-v2.json), through a real
# cairnd. Each reads every entry in its own shape; when the old device upgrades, nothing is lost.
#   examples/journal/two-versions.sh PREFIX EXAMPLES_BUILD
# PREFIX holds the installed cairn and cairnd (bin/); EXAMPLES_BUILD is where examples/ was built.
set -euo pipefail
prefix=$1
v1=$2/journal/journal_example
v2=$2/journal/journal_example_v2
schema=$(dirname "$0")/schema-v2.json
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

source "$(dirname "$0")/../start-cairnd.sh"
start_cairnd "$prefix" "$work"

# The old release writes and syncs; its owner publishes the new release's schema to the dataset.
"$v1" "$work/old.db" write 2026/02/01/07:30 "Ran 5 km by the river"
"$v1" "$work/old.db" sync "$url"
token=$("$prefix/bin/cairn" status "$work/old.db" --show-token)
"$prefix/bin/cairn" schema push "$work/old.db" "$schema"

# The new release joins the dataset as the same user: the old entry arrives with a body.
"$v2" "$work/new.db" sync "$url" "$token"
"$v2" "$work/new.db" write 2026/02/02/08:00 "Swam 1 km"
"$v2" "$work/new.db" sync "$url" "$token"
new=$("$v2" "$work/new.db" list)
echo "the new release reads:"; echo "$new"
grep -q "Ran 5 km by the river" <<<"$new"

# The old release reads the new one's entry in its own shape (text, no attachments).
"$v1" "$work/old.db" sync "$url"
old=$("$v1" "$work/old.db" list)
echo "the old release reads:"; echo "$old"
grep -q "2026/02/02/08:00  mood 3  Swam 1 km" <<<"$old"

# The old device upgrades: its store migrates and it holds both entries at version 2.
"$v2" "$work/old.db" sync "$url" "$token"
upgraded=$("$v2" "$work/old.db" list)
[[ "$upgraded" == "$new" ]]
echo "both releases read each other's entries; after the upgrade both devices hold the same"
