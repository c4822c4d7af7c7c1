#!/usr/bin/env bash
# Installs, under .node/ (git-ignored), what the Node-based tests run:
#   .node/node22            Node 22 from the npm registry (the machine's Node 20 cannot run either tool:
#                           conformance imports fs.globSync, Inspector 2.x declares engines.node >= 22.19)
#   .node/conformance-0.1   @modelcontextprotocol/conformance 0.1.16 (handshake-era server scenarios)
#   .node/conformance-0.2   the 0.2.0 prerelease (2026-07-28 scenarios, the `authorization` command)
#   .node/inspector         @modelcontextprotocol/inspector 2.x CLI (has --header and --strict)
#   .node/publish-preview   the publish preview's build packages (views/publish-preview: esbuild, TypeScript, and the
#                           ext-apps SDK whose AppBridge the browser test hosts the view with); their tarballs stay in
#                           .node/npm-cache, so the test that rebuilds the view runs `npm ci --offline` from there
#   .node/ts-sdk-1          @modelcontextprotocol/sdk 1.x, the TypeScript SDK's server as a benchmark peer
#   .node/ts-sdk-2          @modelcontextprotocol/server 2.x with @modelcontextprotocol/node (its Node HTTP
#                           transport), the same peer on the SDK's v2 packages (bench/ts_sdk_server.cjs runs both)
#
# Reproducible: each tool is installed with `npm ci` from the manifest and lockfile committed in scripts/node/<tool>/,
# so every transitive version and integrity hash is pinned. Idempotent: a stamp holding the lockfile's hash marks a
# finished install, and a tool is installed into a scratch folder that is renamed only once complete, so an
# interrupted run never looks installed. No install scripts run (--ignore-scripts): Node comes as the plain
# platform package, and the Inspector's only postinstall is a source-checkout helper the CLI does not need.
# Needs nothing but npm and the npm registry; bump a version by editing the manifest and regenerating its lockfile
# (`npm install --package-lock-only --ignore-scripts --omit-lockfile-registry-resolved` under Node 22).
set -euo pipefail

NODE_VERSION=22.23.3
TOOLS=(conformance-0.1 conformance-0.2 inspector ts-sdk-1 ts-sdk-2)

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.node"
manifests="$root/scripts/node"
npm_flags=(--ignore-scripts --no-audit --no-fund --no-update-notifier --loglevel=error)

die() { echo "install_node.sh: $*" >&2; exit 1; }

# npm's progress chatter goes to a log that is shown only when the step fails.
quiet() {
    local log
    log="$(mktemp)"
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

if ! command -v npm >/dev/null; then
    echo "installing Debian packages: nodejs npm (npm is needed to fetch Node 22)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) platform=linux-x64 ;;
    Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
    Darwin-x86_64) platform=darwin-x64 ;;
    Darwin-arm64) platform=darwin-arm64 ;;
    *) die "no Node package for $(uname -s) $(uname -m)" ;;
esac

mkdir -p "$dest"
node_bin="$dest/node22/node_modules/.bin/node"

# Node itself: the `node-<platform>` package is the official binary with no install script (the `node` meta-package
# fetches it from a preinstall script, which npm's allow-scripts policy may block).
if [ "$("$node_bin" --version 2>/dev/null || true)" != "v$NODE_VERSION" ]; then
    echo "installing Node $NODE_VERSION into .node/node22"
    rm -rf "$dest/node22" "$dest/node22.tmp"
    mkdir -p "$dest/node22.tmp"
    echo '{"private": true}' >"$dest/node22.tmp/package.json"
    quiet npm install --prefix "$dest/node22.tmp" --save-exact "${npm_flags[@]}" "node-$platform@$NODE_VERSION" \
        || die "npm could not install node-$platform@$NODE_VERSION"
    mv "$dest/node22.tmp" "$dest/node22"
    [ "$("$node_bin" --version)" = "v$NODE_VERSION" ] || die "$node_bin does not report v$NODE_VERSION"
fi

# Every npm below runs under Node 22 (npm's shebang is `env node`), so engine checks see the Node that runs the tools.
export PATH="$dest/node22/node_modules/.bin:$PATH"

# install NAME MANIFEST_DIR [npm flags]: `npm ci` of MANIFEST_DIR's lockfile into .node/NAME, once per lockfile.
install() {
    local name="$1" manifest="$2"
    shift 2
    local lock="$manifest/package-lock.json"
    [ -f "$lock" ] || die "missing $lock"
    local want
    want="$(sha256sum "$lock" | cut -d' ' -f1) node-$NODE_VERSION"
    if [ "$(cat "$dest/$name/.stamp" 2>/dev/null || true)" = "$want" ]; then
        return 0
    fi
    echo "installing $name into .node/$name"
    rm -rf "${dest:?}/$name" "$dest/$name.tmp"
    mkdir -p "$dest/$name.tmp"
    cp "$manifest/package.json" "$lock" "$dest/$name.tmp/"
    (cd "$dest/$name.tmp" && quiet npm ci "${npm_flags[@]}" "$@") || die "npm ci failed for $name"
    echo "$want" >"$dest/$name.tmp/.stamp"
    mv "$dest/$name.tmp" "$dest/$name"
}

for tool in "${TOOLS[@]}"; do
    install "$tool" "$manifests/$tool"
done
install publish-preview "$root/views/publish-preview" --cache "$dest/npm-cache"

# A smoke check that each CLI starts under Node 22 (catches a missing file or a Node incompatibility here, not in a test).
for tool in conformance-0.1 conformance-0.2; do
    "$node_bin" "$dest/$tool/node_modules/@modelcontextprotocol/conformance/dist/index.js" --version >/dev/null \
        || die "the $tool CLI does not start under Node $NODE_VERSION"
done
HOME="$dest" "$node_bin" "$dest/inspector/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js" \
    --cli --version >/dev/null || die "the Inspector CLI does not start under Node $NODE_VERSION"
(cd "$dest/publish-preview" && "$node_bin" -e 'require("esbuild").buildSync({stdin: {contents: "1"}, write: false})') \
    || die "esbuild does not run under Node $NODE_VERSION (is its platform package missing?)"
