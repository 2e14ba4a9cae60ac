# Sourced by the bench/h200*.sh scripts: the books + wiki shards of CORPUS (default
# ../shared/corpus) as the training and validation options of every GPU measurement.
# shellcheck shell=bash
CORPUS=${CORPUS:-../shared/corpus}
# shellcheck disable=SC2034  # read by the scripts that source this file
DATA=(--data "$CORPUS"/books/train-*.jsonl.zst "$CORPUS"/wiki/train-*.jsonl.zst
      --val-data "$CORPUS"/books/val-00000.jsonl.zst "$CORPUS"/wiki/val-00000.jsonl.zst)
