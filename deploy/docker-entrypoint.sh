#!/bin/sh
# Entrypoint of the Vane image (run by tini as PID 1's child). The first argument names the program:
#
#   management-api [serve|migrate|republish]   relay-streamer   events-ingest
#   events-processor [serve|replay --from T|migrate]   vanectl ...
#
# Anything else is executed as given (e.g. `sh` for debugging). Configuration comes from VANE_*
# environment variables; see docs/deployment.md.
set -eu

usage() {
    cat >&2 <<'USAGE'
usage: docker run [options] IMAGE <command> [arguments]

commands:
  management-api [serve|migrate|republish]   management plane (port 8080)
  relay-streamer                             SDK streaming, polling, OFREP (port 8030)
  events-ingest                              SDK event batches to Kafka (port 8040)
  events-processor [serve|replay|migrate]    analytics consumer (port 8050: health, metrics)
  vanectl ...                                operator CLI

Every service is configured through VANE_* environment variables (docs/deployment.md).
USAGE
}

if [ "$#" -eq 0 ]; then
    usage
    exit 64  # EX_USAGE
fi

case "$1" in
    -h|--help|help)
        usage
        exit 0
        ;;
    management-api|relay-streamer|events-ingest|events-processor|vanectl)
        program="$1"
        shift
        exec "/usr/local/bin/${program}" "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
