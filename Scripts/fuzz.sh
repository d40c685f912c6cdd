#!/usr/bin/env bash
# Builds the libFuzzer targets of Tests/Fuzz/Targets (with the address sanitizer) and runs each.
#   Scripts/fuzz.sh [--runs N | --seconds S] [TARGET ...]     (targets: json filter path patch config; default all)
# Each target is SCIMCore's sources compiled with the target file into one module, against swift-http-types built
# with the same flags; `config` adds the dependency-free configuration files of GatewayCore and Yams (with libyaml). A crash or sanitizer report stops with a non-zero status and leaves the input in
# .build/fuzz/artifacts/. The working corpus (.build/fuzz/corpus/TARGET) starts from Tests/Fuzz/Corpus/TARGET.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/.build/fuzz"
LIMIT=(-runs=100000)
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) LIMIT=(-runs="$2"); shift 2 ;;
    --seconds) LIMIT=(-max_total_time="$2"); shift 2 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 64 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(json filter path patch config)

HTTP_TYPES="$ROOT/.build/checkouts/swift-http-types/Sources/HTTPTypes"
if [ ! -d "$HTTP_TYPES" ]; then
  (cd "$ROOT" && swift package resolve >/dev/null)
fi
# The package's settings (Package.swift and swift-http-types' own), so the sources compile as they do there.
FLAGS=(-O -sanitize=fuzzer,address -parse-as-library -swift-version 6
  -enable-upcoming-feature InternalImportsByDefault -enable-upcoming-feature MemberImportVisibility)
HTTP_TYPES_FLAGS=()
for version in 1.0 1.1 1.2 1.3 1.6 1.7; do HTTP_TYPES_FLAGS+=(-enable-experimental-feature "AvailabilityMacro=HTTPTypes $version: macOS 10.0"); done
mkdir -p "$OUT/lib" "$OUT/artifacts"
if [ ! -f "$OUT/lib/libHTTPTypes.a" ]; then
  swiftc "${FLAGS[@]}" "${HTTP_TYPES_FLAGS[@]}" -module-name HTTPTypes -emit-library -static -emit-module -emit-module-path "$OUT/lib/HTTPTypes.swiftmodule" \
    "$HTTP_TYPES"/*.swift -o "$OUT/lib/libHTTPTypes.a" > "$OUT/build-HTTPTypes.log" 2>&1 || { cat "$OUT/build-HTTPTypes.log" >&2; exit 1; }
fi

YAMS="$ROOT/.build/checkouts/Yams/Sources"
if [ ! -f "$OUT/lib/libYams.a" ]; then
  mkdir -p "$OUT/lib/cyaml"
  for file in "$YAMS"/CYaml/src/*.c; do
    clang -c -O1 -g -fsanitize=fuzzer-no-link,address -DYAML_DECLARE_STATIC -I "$YAMS/CYaml/include" "$file" -o "$OUT/lib/cyaml/$(basename "$file" .c).o"
  done
  ar rcs "$OUT/lib/libCYaml.a" "$OUT"/lib/cyaml/*.o
  swiftc -O -sanitize=fuzzer,address -parse-as-library -swift-version 5 -D SWIFT_PACKAGE -module-name Yams -emit-library -static \
    -emit-module -emit-module-path "$OUT/lib/Yams.swiftmodule" -I "$YAMS/CYaml/include" -Xcc -DYAML_DECLARE_STATIC \
    "$YAMS"/Yams/*.swift -o "$OUT/lib/libYams.a" > "$OUT/build-Yams.log" 2>&1 || { cat "$OUT/build-Yams.log" >&2; exit 1; }
fi
# gateway.yaml decoding: the GatewayCore files it needs, none of which pulls in the rest of the package.
CONFIG_SOURCES=(GatewayDocument ConfigBlock ConfigurationError PluginName Principal FulcrumRules/EmailAddress)

status=0
for target in "${TARGETS[@]}"; do
  source="$ROOT/Tests/Fuzz/Targets/$target.swift"
  [ -f "$source" ] || { echo "fuzz: no target $target" >&2; exit 64; }
  binary="$OUT/fuzz-$target"
  extra=()
  if [ "$target" = config ]; then
    for name in "${CONFIG_SOURCES[@]}"; do extra+=("$ROOT/Sources/GatewayCore/$name.swift"); done
    extra+=(-I "$YAMS/CYaml/include" -lYams -lCYaml)
  fi
  if [ ! -x "$binary" ] || [ -n "$(find "$ROOT/Sources/SCIMCore" "$ROOT/Sources/GatewayCore" "$source" -newer "$binary" -print -quit)" ]; then
    swiftc "${FLAGS[@]}" -module-name SCIMCore -I "$OUT/lib" -L "$OUT/lib" -lHTTPTypes \
      -enable-upcoming-feature ExistentialAny "$ROOT"/Sources/SCIMCore/*.swift "$source" "${extra[@]}" -o "$binary" > "$OUT/build-$target.log" 2>&1 \
      || { grep -v "Cannot export local symbol" "$OUT/build-$target.log" >&2; echo "fuzz: $target did not build" >&2; exit 1; }
  fi
  mkdir -p "$OUT/corpus/$target"
  cp -n "$ROOT/Tests/Fuzz/Corpus/$target/"* "$OUT/corpus/$target/" 2>/dev/null || true
  log="$OUT/$target.log"
  if "$binary" "${LIMIT[@]}" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$OUT/artifacts/$target-" \
    "$OUT/corpus/$target" > "$log" 2>&1; then
    echo "fuzz: $target: $(grep -E '^Done [0-9]+ runs' "$log" | tail -1)"
  else
    status=1
    echo "fuzz: $target FAILED; see $log" >&2
    grep -E "ERROR|Fatal error|SUMMARY|artifact" "$log" | head -5 >&2
  fi
done
exit $status
