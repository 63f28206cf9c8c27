#!/usr/bin/env bash
# TLS on every server (tests/tls/test_tls.py): course-style Python clients
# in ssl.create_default_context(cafile=...) against `reseau serve` over TLS
# (adder with every pickle protocol, echo, the web's pages and API), openssl
# s_client (TLS 1.2, 1.3, 1.1 refused, ALPN) and curl, plain-text and hostile
# clients during the handshake, start refusals, SIGHUP reloads. Standard
# library Python, the real binary. openssl and curl: CI installs them with
# apt-get; elsewhere their tests are skipped when missing. About a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v openssl >/dev/null || ! command -v curl >/dev/null; then
  if [ "${CI:-}" = "true" ]; then
    as_root=""
    [ "$(id -u)" -eq 0 ] || as_root="sudo"
    $as_root apt-get update -qq >/dev/null
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl curl >/dev/null
  else
    echo "note: openssl or curl is not installed: their tests are skipped (apt-get install openssl curl)"
  fi
fi
exec python3 tests/tls/test_tls.py --reseau target/release/reseau "$@"
