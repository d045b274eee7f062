# Sourced by the example scripts: start_cairnd PREFIX WORK starts PREFIX/bin/cairnd on a free
# loopback port with its data and log in WORK, and sets $server (its pid) and $url.
start_cairnd() {
  "$1/bin/cairnd" --port 0 --data "$2/server" >"$2/cairnd.log" 2>&1 &
  server=$!
  local port=
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening=https*:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$2/cairnd.log")
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  url="http://127.0.0.1:$port"
}
