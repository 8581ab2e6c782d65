#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME (default 30s; "10000000x"
# for a count of executions) each, FUZZPARALLEL workers (default 2). No
# test timeout: 10^7 executions of one target take 5-15 minutes here.
# go test -fuzz takes one package and one target at a time, so list them first.
# FUZZIDLE=1 runs them under the idle scheduling class (chrt --idle 0, Linux),
# so they take only CPU time nothing else wants; never pause a fuzzer with
# SIGSTOP instead: its coordinator then reports the worker as hung, with a
# bogus failing input.
set -euo pipefail

FUZZTIME="${FUZZTIME:-30s}"
cd "$(dirname "$0")/.."

idle=()
if [ "${FUZZIDLE:-0}" = 1 ]; then
	idle=(chrt --idle 0)
fi

ran=0
for dir in $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ./...); do
	pkg="./$(realpath --relative-to=. "$dir")"
	for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $f ($FUZZTIME)"
		${idle[@]+"${idle[@]}"} go test -run '^$' -fuzz "^${f}\$" -fuzztime "$FUZZTIME" -timeout 0 -parallel "${FUZZPARALLEL:-2}" "$pkg"
		ran=$((ran + 1))
	done
done

if [ "$ran" -eq 0 ]; then
	echo "fuzz: no fuzz targets found"
else
	echo "fuzz: $ran targets, $FUZZTIME each"
fi
