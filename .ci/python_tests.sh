#!/usr/bin/env bash
# Python tests of the env server (called from .ci/run): a venv with the official
# dm_env_rpc client, grpcio, gymnasium and the somnium_client package; then
# `somnium serve` on a free loopback port in the background, pytest against it,
# and the server stopped (it must still be up after the tests).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
VENV="${SOMNIUM_VENV:-target/python-venv}"
if ! python3 -m venv "$VENV" 2>/dev/null; then
    SUDO=""; if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get install -y --no-install-recommends python3-venv
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "dm-env-rpc==1.1.7" "grpcio==1.85.3" "gymnasium==1.4.0" "numpy==2.4.6" "pytest==9.2.0"
"$VENV/bin/pip" install --quiet --disable-pip-version-check ./python

cargo build --release -p somnium --bin somnium

PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDRESS="127.0.0.1:$PORT"
LOG=target/somnium-serve.log
"$TARGET/release/somnium" serve --bind "$ADDRESS" >"$LOG" 2>&1 &
SERVER_PID=$!
stop_server() {
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" || true
    fi
}
trap stop_server EXIT

"$VENV/bin/python" - "$ADDRESS" <<'PY'
import sys, grpc
channel = grpc.insecure_channel(sys.argv[1])
grpc.channel_ready_future(channel).result(timeout=60)
PY

status=0
SOMNIUM_SERVER="$ADDRESS" SOMNIUM_BIN="$TARGET/release/somnium" \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider python/tests || status=$?
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "somnium serve died during the Python tests; its log:" >&2
    cat "$LOG" >&2
    exit 1
fi
exit "$status"
