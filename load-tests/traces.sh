#!/usr/bin/env bash
# What exporting traces costs the join path (issue 27, item 4): ab.sh's
# healthz/hot-join ratio, alternating, for the given build with export off
# and with export on to a local stand-in collector (an OTLP/HTTP endpoint
# that reads each batch and answers 200, as a collector's receiver does),
# and for any other builds given (a baseline from before traces).
#   load-tests/traces.sh ROUNDS /path/to/lottery [/path/to/baseline ...]
# The span queue's default size (2048) applies: at this rate most spans
# are dropped by the SDK rather than waited for, as in production without
# sampling; OTEL_TRACES_SAMPLER=traceidratio with OTEL_TRACES_SAMPLER_ARG
# is the way to keep a share of them.
set -euo pipefail
ROUNDS="${1:?rounds}"
BINARY="${2:?binary}"
shift 2
SINK_PORT="${SINK_PORT:-14318}"
WORK="$(mktemp -d)"
python3 - "$SINK_PORT" >"$WORK/sink.log" 2>&1 <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
SINK=$!
trap 'kill $SINK 2>/dev/null; rm -rf "$WORK"' EXIT
# ab.sh runs each build as a program: export on is this wrapper.
cat >"$WORK/lottery-exporting" <<SH
#!/bin/sh
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$SINK_PORT exec "$BINARY" "\$@"
SH
chmod +x "$WORK/lottery-exporting"
bash "$(dirname "$0")/ab.sh" "$ROUNDS" "$BINARY" "$WORK/lottery-exporting" "$@"
