#!/usr/bin/env bash
# Fetches Mesa 25 lavapipe (software Vulkan with shader-f16) from Debian bookworm-backports into
# .cache/mesa without installing it system-wide, and writes an ICD file with an absolute path.
# Recipe from ../shared/research/machine.md §4(b). Safe to re-run; a no-op when already present.
set -euo pipefail
D=$PWD/.cache/mesa
[ -f "$D/lvp_abs.json" ] && exit 0
mkdir -p "$D/lists/partial" "$D/cache/archives/partial" "$D/parts"
src=/etc/apt/sources.list.d/debian.sources
awk '/^URIs:/{print "Types: deb"; print; print "Suites: bookworm-backports"; print "Components: main"; print "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"; exit}' "$src" > "$D/parts/backports.sources"
O="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$D/parts -o Dir::State::Lists=$D/lists -o Dir::Cache=$D/cache"
apt-get $O update -qq
(cd "$D" && apt-get $O download mesa-vulkan-drivers/bookworm-backports)
dpkg -x "$D"/mesa-vulkan-drivers_*.deb "$D/root"
python3 - "$D" <<'PY'
import json, sys
d = sys.argv[1]
p = f"{d}/root/usr/share/vulkan/icd.d/lvp_icd.json"
j = json.load(open(p))
j["ICD"]["library_path"] = f"{d}/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"
json.dump(j, open(f"{d}/lvp_abs.json", "w"))
PY
echo "lavapipe ready: $D/lvp_abs.json"
