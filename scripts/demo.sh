#!/usr/bin/env bash
# Runs `repbook serve` on a local data dir and shows how to talk to it. Ctrl-C stops it.
set -euo pipefail
data_dir=${1:-demo-data}
bin=target/debug/repbook
mkdir -p "$data_dir"
rm -f "$data_dir/server.addr"
"$bin" serve --data-dir "$data_dir" --listen "${REPBOOK_LISTEN:-127.0.0.1:7878}" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' INT TERM EXIT
for _ in $(seq 100); do [ -s "$data_dir/server.addr" ] && break; sleep 0.1; done
[ -s "$data_dir/server.addr" ] || { echo "repbook did not start" >&2; exit 1; }
addr=$(cat "$data_dir/server.addr")
token=${REPBOOK_TOKEN:-$(cat "$data_dir/token")}
cat <<TXT

repbook is running at http://$addr   (data in $data_dir/, Ctrl-C to stop)
API token: $token

Try, in another terminal:
  $bin --data-dir $data_dir clinic create --name "Harbour GP" --timezone Australia/Sydney --state NSW
  $bin --data-dir $data_dir staff add --clinic CLINIC_ID --first-name Ana --last-name Ng --ahpra MED0001234567
  curl -H "Authorization: Bearer $token" http://$addr/api/v1/clinics
TXT
wait $server
