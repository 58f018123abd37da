#!/usr/bin/env bash
# Installs the servers that dpipe-storage's behaviour suite starts on 127.0.0.1: openssh-server
# (sshd, for SFTP) and vsftpd (FTP; FTPS with a certificate made by openssl), from Debian's
# packages. S3 (s3s-fs) and the local folder need nothing: s3s-fs is a Rust dependency of the
# test kit and runs in-process. It also installs aiosmtpd (scripts/install-smtp.sh) for the
# tests of emailed invitation links.
#
# Idempotent: a package already installed is not touched, and nothing runs when both are there.
# The tests write their own sshd/vsftpd configs and create their own test user; this script
# only installs binaries. Nothing is downloaded at test time.
#
# Usage: bash scripts/install-test-services.sh   (as root, or with sudo available)
set -euo pipefail

# The SMTP server of the invitation tests (aiosmtpd, from PyPI into its own venv).
bash "$(dirname "${BASH_SOURCE[0]}")/install-smtp.sh"

need=()
[[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
[[ -x /usr/sbin/vsftpd ]] || need+=(vsftpd)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
# The FTPS tests make a self-signed certificate for vsftpd at start.
command -v openssl >/dev/null || need+=(openssl)

if [[ ${#need[@]} -eq 0 ]]; then
    echo "test services already installed (sshd, vsftpd)" >&2
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install ${need[*]}: needs root or sudo" >&2; exit 1; }
    sudo=(sudo)
fi

echo "installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
# Debian's postinst may start the system services on their default ports; the tests run their
# own instances with their own configs and ports, so the system ones are stopped if running.
for svc in ssh vsftpd; do
    "${sudo[@]}" service "$svc" stop >/dev/null 2>&1 || true
done
/usr/sbin/sshd -V 2>&1 | head -1 >&2 || true
[[ -x /usr/sbin/vsftpd ]] || { echo "vsftpd did not install" >&2; exit 1; }
echo "test services installed" >&2
