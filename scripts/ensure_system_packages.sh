#!/usr/bin/env bash
# The system packages some tests need beyond Python, installed when they are missing and this can be done here
# (root and apt-get); otherwise one line per missing package says why it was not installed and what it costs.
# Never fails itself: a test whose package is missing says so (the GPU tests, tests/gpu, fail rather than skip
# without chromium and libvulkan1). Called by `make test` and .ci/run.
set -uo pipefail

# package|what needs it|how to tell it is there
PACKAGES=(
  "chromium|the HTML report test, which renders the report in headless Chromium, and the GPU tests (Chromium ships SwiftShader, the software Vulkan device LiteRT's GPU accelerator runs on without a GPU)|command -v chromium || command -v chromium-browser"
  "libvulkan1|headless Chromium, whose GPU process loads the Vulkan loader, and LiteRT's GPU accelerator (tests/gpu)|ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || /sbin/ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'"
  "bubblewrap|the loopback device's sandbox (bwrap)|command -v bwrap"
  "mksh|the loopback device's shell (Android's sh is mksh)|command -v mksh"
  "toybox|the loopback device's command-line tools (Android's are toybox)|command -v toybox"
)

names=()
missing=()
for entry in "${PACKAGES[@]}"; do
  IFS='|' read -r name _ probe <<<"$entry"
  names+=("$name")
  if ! bash -c "$probe" >/dev/null 2>&1; then
    missing+=("$name")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: ${names[*]} present"
  exit 0
fi

why() {
  for entry in "${PACKAGES[@]}"; do
    IFS='|' read -r name reason _ <<<"$entry"
    [ "$name" = "$1" ] && echo "$reason"
  done
}

if [ "$(id -u)" != 0 ]; then
  reason="not running as root"
  fix="sudo apt-get install -y ${missing[*]}"
elif ! command -v apt-get >/dev/null 2>&1; then
  reason="no apt-get on this system"
  fix="install ${missing[*]} with this system's package manager"
else
  echo "system packages: installing ${missing[*]} with apt-get"
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null); then
    exit 0
  fi
  reason="apt-get failed (no network or no such package?)"
  fix="apt-get install -y ${missing[*]}"
fi

for name in "${missing[@]}"; do
  echo "warning: system package $name is missing and was not installed ($reason); it is needed by $(why "$name")," \
       "so the tests that need it cannot run here. Fix: $fix"
done
exit 0
