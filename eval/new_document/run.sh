#!/bin/sh
# A document nobody wrote code for: corpus/ plus eval/new_document/ulille-vie-pratique.txt (invented practical-life
# pages with their own breadcrumbs and "Haut de page" lines), indexed in a temporary folder, then its 60 questions
# (45 answerable, 15 near misses) asked with the shipped models, nothing refitted. corpus/ and index/ are not touched.
# Usage: sh eval/new_document/run.sh [extra rag eval options, e.g. --json]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rag=${RAG:-$root/.venv/bin/rag}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$root"/corpus/. "$work/"
# the vectors already computed for corpus/ (keyed by content hash) spare re-embedding it
mkdir -p "$work/index"
[ -d "$root/index/cache" ] && cp -r "$root/index/cache" "$work/index/"
cp "$here/ulille-vie-pratique.txt" "$work/"
"$root/.venv/bin/python" - "$root/corpus/sources.json" "$here/source.json" "$work/sources.json" <<'PY'
import json, sys
sources = json.load(open(sys.argv[1], encoding="utf-8"))
sources.append(json.load(open(sys.argv[2], encoding="utf-8")))
json.dump(sources, open(sys.argv[3], "w", encoding="utf-8"), ensure_ascii=False, indent=1)
PY
"$rag" index --corpus "$work" --out "$work/index" >/dev/null
"$rag" eval --dataset "$here/questions.jsonl" --index "$work/index" --corpus "$work" "$@"
