# shellcheck shell=bash
# Shared helpers for the project's scripts. Source it; do not run it.
#
#   ensure_venv     .venv at the repo root with requirements-dev.txt installed
#                   (re-installs only when that file changed).
#   standin_start   moto_server + scripts/cbor_proxy.py on free loopback ports;
#                   exports AWS_ENDPOINT_URL and friends pointing at the proxy.
#   standin_stop    stops both (callers: trap standin_stop EXIT).
#   ensure_machete  cargo-machete (pinned) in .cache/tools, for the unused-dependency check.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
STANDIN_DIR="$REPO_ROOT/.cache/standin"

ensure_venv() {
    local req="$REPO_ROOT/requirements-dev.txt" stamp="$VENV/.requirements.sha256" want
    want="$(sha256sum "$req" | cut -d' ' -f1)"
    if [[ ! -x "$VENV/bin/python" ]]; then
        python3 -m venv "$VENV"
    fi
    if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
        echo "ensure_venv: installing $req into $VENV" >&2
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
        echo "$want" >"$stamp"
    fi
}

MACHETE_VERSION=0.9.2
TOOLS="$REPO_ROOT/.cache/tools"

ensure_machete() {
    if [[ "$("$TOOLS/bin/cargo-machete" --version 2>/dev/null)" != *"$MACHETE_VERSION"* ]]; then
        echo "ensure_machete: installing cargo-machete $MACHETE_VERSION into $TOOLS" >&2
        cargo install --quiet --locked --root "$TOOLS" cargo-machete --version "$MACHETE_VERSION"
    fi
}

# Prints a TCP port that is free on 127.0.0.1 right now.
_free_port() {
    "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# _wait_http NAME URL LOG PID: polls URL until it answers (any HTTP status), 30 s at
# most; fails early, with the log tail, if PID dies.
_wait_http() {
    local name="$1" url="$2" log="$3" pid="$4"
    if "$VENV/bin/python" - "$url" "$pid" <<'EOF'; then return 0; fi
import os, sys, time, urllib.error, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        urllib.request.urlopen(url, timeout=2)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # an HTTP error status still means the server is up
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        print(f"process {pid} exited during start-up", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.2)
print(f"no answer at {url} within 30 s", file=sys.stderr)
sys.exit(1)
EOF
    echo "standin: $name failed to start; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    return 1
}

standin_start() {
    mkdir -p "$STANDIN_DIR"
    local moto_port proxy_port
    moto_port="$(_free_port)"
    proxy_port="$(_free_port)"
    while [[ "$proxy_port" == "$moto_port" ]]; do proxy_port="$(_free_port)"; done

    # MOTO_LAMBDA_CONCURRENCY_QUOTA turns on moto's "unreserved concurrency must
    # stay >= 100" check in PutFunctionConcurrency.
    MOTO_LAMBDA_CONCURRENCY_QUOTA=1000 \
        "$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" \
        >"$STANDIN_DIR/moto.log" 2>&1 &
    STANDIN_MOTO_PID=$!
    "$VENV/bin/python" "$REPO_ROOT/scripts/cbor_proxy.py" \
        --listen-port "$proxy_port" --upstream "http://127.0.0.1:$moto_port" \
        >"$STANDIN_DIR/proxy.log" 2>&1 &
    STANDIN_PROXY_PID=$!
    printf '%s\n%s\n' "$STANDIN_MOTO_PID" "$STANDIN_PROXY_PID" >"$STANDIN_DIR/pids"

    # /moto-api/ answers 200 on moto; through the proxy it also proves forwarding.
    if ! _wait_http moto "http://127.0.0.1:$moto_port/moto-api/" "$STANDIN_DIR/moto.log" "$STANDIN_MOTO_PID" ||
        ! _wait_http cbor_proxy "http://127.0.0.1:$proxy_port/moto-api/" "$STANDIN_DIR/proxy.log" "$STANDIN_PROXY_PID"; then
        standin_stop
        return 1
    fi

    export STANDIN_MOTO_PID STANDIN_PROXY_PID
    export STANDIN_MOTO_URL="http://127.0.0.1:$moto_port"
    export AWS_ENDPOINT_URL="http://127.0.0.1:$proxy_port"
    export AWS_ACCESS_KEY_ID=testing
    export AWS_SECRET_ACCESS_KEY=testing
    unset AWS_SESSION_TOKEN AWS_PROFILE
    export AWS_REGION=us-east-1
    export AWS_DEFAULT_REGION=us-east-1
    export AWS_EC2_METADATA_DISABLED=true
    export CGUARD_STANDIN=1
    echo "standin: moto on :$moto_port, proxy on $AWS_ENDPOINT_URL (logs in $STANDIN_DIR)" >&2
}

# _stop_pid PID: SIGTERM, up to 10 s for it to go, then SIGKILL. Works for our
# own children (reaped with wait) and for pids read back from the pids file.
_stop_pid() {
    local pid="$1" i
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        if ! kill -0 "$pid" 2>/dev/null || [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == Z* ]]; then
            wait "$pid" 2>/dev/null || true
            return 0
        fi
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

standin_stop() {
    local pid
    for pid in "${STANDIN_PROXY_PID:-}" "${STANDIN_MOTO_PID:-}"; do
        [[ -n "$pid" ]] && _stop_pid "$pid"
    done
    STANDIN_PROXY_PID="" STANDIN_MOTO_PID=""
    rm -f "$STANDIN_DIR/pids"
}
