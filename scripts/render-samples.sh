#!/usr/bin/env bash
# Render the bundled sample order sets into out/ (or the folder given) and say where.
# Pairs that a safety rule blocks are reported and write nothing, as designed.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}
date=${CHEMO_ORDERS_DATE:-2026-11-22}
pairs=(
  "adult-b-all-cd20-positive r-hyper-cvad-a"
  "adult-b-all-cd20-negative hyper-cvad-a"
  "older-adult-b-all mini-hyper-cvd-ino"
  "pediatric-b-all-standard-risk pediatric-3-drug-induction"
  "relapsed-t-all nelarabine"
  "relapsed-dlbcl r-ice"
  "newly-diagnosed-dlbcl r-chop"
  "obese-adult-dlbcl r-dhap"
  "us-units-b-all r-hyper-cvad-b"
  "adult-b-all-cd20-positive r-ice"
)
status=0
for pair in "${pairs[@]}"; do
  read -r patient regimen <<<"$pair"
  .venv/bin/chemo-orders render "samples/patients/$patient.yaml" --regimen "$regimen" --date "$date" \
    -o "$out/$patient--$regimen.pdf" >/dev/null
  code=$?
  case $code in
    0) echo "rendered $out/$patient--$regimen.pdf" ;;
    3) echo "blocked  $patient + $regimen (safety rule; no file written, as intended)" ;;
    *) echo "FAILED   $patient + $regimen (exit $code)"; status=1 ;;
  esac
done
echo "order sets are in $(cd "$out" && pwd)"
exit $status
