#!/bin/bash
# schemathesis (PyPI) against bert serve's own /openapi.json, on 127.0.0.1 only, one server per
# model folder given. Bounded: --max-examples per operation (EXAMPLES, default 50) and a time
# budget per model (MAX_TIME seconds, default 120). Checks: no 5xx, status codes and content types
# the document declares, bodies that match its schemas. Exit 1 on any failure.
#
#   SCHEMATHESIS=/path/to/venv/bin/schemathesis scripts/schemathesis_server.sh \
#       .cache/models/all-MiniLM-L6-v2 .cache/models/splade-tiny-mlm Tests/Goldens/heads/models/ner-bio
set -uo pipefail
BERT=${BERT:-.build/release/bert}
SCHEMATHESIS=${SCHEMATHESIS:-schemathesis}
EXAMPLES=${EXAMPLES:-50}
MAX_TIME=${MAX_TIME:-120}
SEED=${SEED:-1}
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
status=0
for model in "$@"; do
    log=$(mktemp)
    "$BERT" serve --model "$model" --host 127.0.0.1 --port 0 2> "$log" &
    pid=$!
    port=
    for _ in $(seq 600); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log")
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then echo "bert serve did not start on $model:"; cat "$log"; status=1; continue; fi
    echo "== $model on 127.0.0.1:$port"
    "$SCHEMATHESIS" run "http://127.0.0.1:$port/openapi.json" --checks "$CHECKS" --max-examples "$EXAMPLES" \
        --max-time "$MAX_TIME" --seed "$SEED" --workers 1 --request-timeout 60 || status=1
    kill -TERM "$pid"
    wait "$pid" || { echo "bert serve exited $? on $model"; status=1; }
    rm -f "$log"
done
exit $status
