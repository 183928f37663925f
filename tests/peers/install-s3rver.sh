#!/bin/sh
# install-s3rver.sh - install the S3 peer from npm into tests/peers/node
set -e
dir=$(dirname "$0")/node
[ -x "$dir/node_modules/s3rver/bin/s3rver.js" ] && exit 0
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{}' >"$dir/package.json"
npm install --silent --no-audit --no-fund --prefix "$dir" s3rver >/dev/null
