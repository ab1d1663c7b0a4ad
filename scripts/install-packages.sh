#!/usr/bin/env bash
# Installs the Debian packages harepost builds, runs and tests with, when any
# is missing (apt-get through sudo unless run as root).
#
#   libprotobuf-c-dev protobuf-c-compiler  protobuf-c runtime and protoc-c
#   libcurl4-openssl-dev                   outbound HTTP (the dispatcher)
#   libsqlite3-dev                         the embedded database
#   protobuf-compiler libprotobuf-dev      protoc and the well-known-type protos
#                                          (code generation, wire-compatibility tests)
#   python3 python3-yaml python3-jsonschema  the example client; tests check live
#                                          responses against docs/openapi.yaml
#   dnsmasq-base                           a real DNS server for domain-verification tests
#   openssl                                tests make a CA for their HTTPS target
#   postgresql                             the PostgreSQL engine's tests start throwaway
#                                          servers (the Debian package's initdb, pg_ctl)
set -euo pipefail

packages=(
  libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev libsqlite3-dev
  protobuf-compiler libprotobuf-dev python3 python3-yaml python3-jsonschema dnsmasq-base openssl
  postgresql
)

missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
export DEBIAN_FRONTEND=noninteractive
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
