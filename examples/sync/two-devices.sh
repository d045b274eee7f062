#!/usr/bin/env bash
# Two devices of one user converge through a real cairnd: the sync example run as two processes.
#   examples/sync/two-devices.sh PREFIX EXAMPLE_BIN
# PREFIX holds the installed cairn and cairnd (bin/); EXAMPLE_BIN is the built sync_example.
set -euo pipefail
prefix=$1
example=$2
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

source "$(dirname "$0")/../start-cairnd.sh"
start_cairnd "$prefix" "$work"

"$example" "$work/phone.db" "$url" --note "Ran 5 km by the river"
token=$("$prefix/bin/cairn" status "$work/phone.db" --show-token)
"$example" "$work/laptop.db" "$url" --token "$token" --note "Cooked dinner for four"
phone=$("$example" "$work/phone.db" "$url")
laptop=$("$example" "$work/laptop.db" "$url")
echo "phone now holds:"; echo "$phone"

# Both devices hold both notes and 20 xp, and the same user.
for device in "$phone" "$laptop"; do
  grep -q "Ran 5 km by the river" <<<"$device"
  grep -q "Cooked dinner for four" <<<"$device"
  grep -q "practice xp 20" <<<"$device"
done
[[ "$(grep "synced as user" <<<"$phone")" == "$(grep "synced as user" <<<"$laptop")" ]]
echo "two devices converged"

# Live: both at once. Neither polls: the phone learns of the laptop's note by push, and each sees
# the other present.
"$example" "$work/phone.db" "$url" --live phone --await-peer laptop \
  --await-note "Live from the laptop" >"$work/phone-live.txt" &
phone_live=$!
"$example" "$work/laptop.db" "$url" --token "$token" --live laptop --await-peer phone \
  --note "Live from the laptop" >"$work/laptop-live.txt"
wait "$phone_live"
echo "phone, live:"; cat "$work/phone-live.txt"
grep -q "saw laptop present" "$work/phone-live.txt"
grep -q "the note \"Live from the laptop\" arrived by push" "$work/phone-live.txt"
grep -q "saw phone present" "$work/laptop-live.txt"
echo "two live devices saw each other and the pushed note"
