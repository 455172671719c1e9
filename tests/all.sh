#!/usr/bin/env bash
# Every test flipdeck has, after installing what they need. The README's test command and CI's
# `.ci/run` both call exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests drive for real: git, OpenSSH (sshd, ssh-keygen, ssh-agent), tmux, and
# nginx with PHP-FPM for the zero-downtime load test.
need=()
command -v git >/dev/null || need+=(git)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v tmux >/dev/null || need+=(tmux)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
ls /usr/sbin/php-fpm* >/dev/null 2>&1 || need+=(php-fpm)
# The Laravel-shaped app's build runs `php artisan`; its writable paths are given ACLs.
command -v php >/dev/null || need+=(php-cli)
command -v setfacl >/dev/null || need+=(acl)
# URL health checks on the "server" use curl (or wget), and the TLS site test requests its
# self-signed certificate (made with openssl) with curl; the fault tests use pgrep, runuser and
# chattr.
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v pgrep >/dev/null || need+=(procps)
# The env commands' server side compares files with cmp.
command -v cmp >/dev/null || need+=(diffutils)
command -v runuser >/dev/null || need+=(util-linux)
command -v chattr >/dev/null || need+=(e2fsprogs)
# A push is tested against a login user other than the operator: made with useradd/usermod.
command -v useradd >/dev/null || need+=(passwd)
# The completion scripts are loaded in bash and zsh; the man page is rendered with man.
command -v zsh >/dev/null || need+=(zsh)
command -v man >/dev/null || need+=(man-db)
# The scripts flipdeck runs on servers (assets/remote) are checked with shellcheck.
command -v shellcheck >/dev/null || need+=(shellcheck)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  elif [ "${CI:-}" = true ]; then
    echo "missing ${need[*]} and cannot install them (not root or no apt-get)" >&2
    exit 1
  else
    echo "note: install ${need[*]} (e.g. sudo apt-get install ${need[*]}); tests needing them will skip"
  fi
fi

# Without shellcheck (not root, not CI) the other checks still run, as the tests above skip.
if command -v shellcheck >/dev/null || [ "${CI:-}" = true ]; then
  shellcheck -s sh assets/remote/*.sh
else
  echo "note: shellcheck is not installed; assets/remote/*.sh not checked"
fi
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
# A test that hangs fails the run after 40 minutes (the whole suite takes about 12) instead of
# holding CI until its own limit; libtest has named it as running for over 60 seconds by then.
timeout -k 30 40m cargo test --locked
