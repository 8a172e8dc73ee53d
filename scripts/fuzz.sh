#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (swiftc -sanitize=fuzzer). See docs/fuzzing.md.
#
#   scripts/fuzz.sh [--seconds N] [--smoke] [target...]
#
# Targets: json-validator, flag-evaluation, ofrep-request, client-context (default: all). Each is built (once,
# into .build/fuzz) from ModelsCore's sources, the service files it exercises and Tests/Fuzz/Targets/<Name>.swift,
# instrumented for libFuzzer; then it replays every input in Tests/Fuzz/regressions/<target>/ (the crashes found
# so far, each a regression test) and fuzzes for N seconds (FUZZ_SECONDS, default 60) from the seed corpus in
# Tests/Fuzz/corpus/<target>/ plus what earlier runs found (.build/fuzz/corpus/<target>). --smoke: 5 seconds each.
# A crash stops with its input in .build/fuzz/artifacts/<target>/: copy it to Tests/Fuzz/regressions/<target>/.
# The seed is fixed (FUZZ_SEED, default 1) so a run can be repeated.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/.build/fuzz"
SWIFTC="${SWIFTC:-swiftc}"
CLANG="${CLANG:-clang}"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
SEED="${FUZZ_SEED:-1}"
ALL_TARGETS=(json-validator flag-evaluation ofrep-request client-context)
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_EACH="$2"; shift 2 ;;
        --smoke) SECONDS_EACH="${FUZZ_SMOKE_SECONDS:-5}"; shift ;;
        -h|--help) sed -n 2,13p "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

# Extra service sources per target (pure files: ModelsCore is their only import).
sources_for() {
    case "$1" in
        json-validator) echo "$ROOT/Services/EventsIngest/Validation/EventBatchValidator.swift" \
            "$ROOT/Tests/Fuzz/Targets/JSONValidator.swift" ;;
        flag-evaluation) echo "$ROOT/Tests/Fuzz/Targets/FlagEvaluation.swift" ;;
        ofrep-request) echo "$ROOT/Services/RelayStreamer/OFREP/OFREPContext.swift" \
            "$ROOT/Services/RelayStreamer/OFREP/OFREPEvaluation.swift" "$ROOT/Tests/Fuzz/Targets/OFREPRequest.swift" ;;
        client-context) echo "$ROOT/Services/RelayStreamer/ClientSide/Base64URL.swift $ROOT/Tests/Fuzz/Targets/ClientContext.swift" ;;
        *) echo "unknown fuzz target: $1 (known: ${ALL_TARGETS[*]})" >&2; exit 2 ;;
    esac
}

mkdir -p "$OUT/cvanehash" "$OUT/bin"
# CVaneHash (C): objects plus a module map, as SwiftPM would make them.
cat > "$OUT/cvanehash/module.modulemap" <<MAP
module CVaneHash {
    header "$ROOT/Shared/CVaneHash/include/vane_hash.h"
    export *
}
MAP
for c in sha1 sha256; do
    if [ ! -f "$OUT/cvanehash/$c.o" ] || [ "$ROOT/Shared/CVaneHash/$c.c" -nt "$OUT/cvanehash/$c.o" ]; then
        "$CLANG" -O2 -fsanitize=fuzzer-no-link -I "$ROOT/Shared/CVaneHash/include" -c "$ROOT/Shared/CVaneHash/$c.c" -o "$OUT/cvanehash/$c.o"
    fi
done

# ModelsCore, instrumented, as a static library with its module (built once, rebuilt when a source changes).
build_models_core() {
    local -a sources
    mapfile -t sources < <(find "$ROOT/Shared/ModelsCore" -name '*.swift' | sort)
    local newest
    newest="$(ls -t "${sources[@]}" "$0" | head -1)"
    if [ -f "$OUT/lib/libModelsCore.a" ] && [ "$OUT/lib/libModelsCore.a" -nt "$newest" ]; then return; fi
    echo "building ModelsCore for fuzzing"
    mkdir -p "$OUT/lib"
    "$SWIFTC" -sanitize=fuzzer -parse-as-library -O -module-name ModelsCore -swift-version 6 -suppress-warnings \
        -I "$OUT/cvanehash" -emit-module -emit-module-path "$OUT/lib/ModelsCore.swiftmodule" \
        -emit-library -static "${sources[@]}" -o "$OUT/lib/libModelsCore.a"
}

build() {
    local target="$1" binary="$OUT/bin/$1"
    local -a sources
    # shellcheck disable=SC2207
    sources=($(sources_for "$target") "$ROOT/Tests/Fuzz/Targets/Common.swift")
    local newest
    newest="$(ls -t "${sources[@]}" "$OUT/lib/libModelsCore.a" "$0" | head -1)"
    if [ -x "$binary" ] && [ "$binary" -nt "$newest" ]; then return; fi
    echo "building fuzz target $target"
    "$SWIFTC" -sanitize=fuzzer -parse-as-library -O -module-name FuzzTarget -swift-version 6 \
        -I "$OUT/lib" -I "$OUT/cvanehash" -L "$OUT/lib" -lModelsCore \
        "${sources[@]}" "$OUT/cvanehash/sha1.o" "$OUT/cvanehash/sha256.o" -o "$binary"
}

build_models_core
# Swift's backtracer would outlast libFuzzer's -timeout on a crash; libFuzzer prints its own stack.
export SWIFT_BACKTRACE=enable=no
status=0
for target in "${targets[@]}"; do
    build "$target"
    corpus="$OUT/corpus/$target"
    artifacts="$OUT/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    regressions=("$ROOT/Tests/Fuzz/regressions/$target"/*)
    if [ -e "${regressions[0]}" ]; then
        echo "== $target: replaying ${#regressions[@]} regression inputs"
        "$OUT/bin/$target" -runs=1 "${regressions[@]}" > "$OUT/$target-regressions.log" 2>&1 \
            || { cat "$OUT/$target-regressions.log"; echo "FAILED: $target regression input"; status=1; continue; }
    fi
    echo "== $target: fuzzing for ${SECONDS_EACH}s (seed $SEED)"
    if "$OUT/bin/$target" -seed="$SEED" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$ROOT/Tests/Fuzz/corpus/$target" > "$OUT/$target.log" 2>&1; then
        grep -E "^stat::number_of_executed_units|^stat::new_units_added|cov: " "$OUT/$target.log" | tail -3 || true
    else
        tail -40 "$OUT/$target.log"
        echo "FAILED: $target found a crash; the input is in $artifacts/ (add it to Tests/Fuzz/regressions/$target/)"
        status=1
    fi
done
exit $status
