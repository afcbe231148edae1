#!/usr/bin/env bash
# Base provisioning of a host over SSH: the same definition as the cloud-init user-data
# (cloudinit/render.py). Idempotent: a second run changes nothing and prints "no changes".
# Run as root. cloudinit/render.py:provision_script() puts the host's parameters in front of this
# file; run by hand, export the PROVISION_* variables below instead.
set -euo pipefail

: "${PROVISION_USER:?name of the operator account}"
: "${PROVISION_SSH_KEYS:?SSH public keys of the operator, one per line}"
: "${PROVISION_HOSTNAME:?short hostname}"
: "${PROVISION_PACKAGE_MANAGER:?apt or dnf}"
PROVISION_SHELL="${PROVISION_SHELL:-/bin/bash}"
PROVISION_ADMIN_GROUP="${PROVISION_ADMIN_GROUP:-sudo}"
PROVISION_FQDN="${PROVISION_FQDN:-$PROVISION_HOSTNAME}"
PROVISION_HOSTS_ENTRIES="${PROVISION_HOSTS_ENTRIES:-}"
PROVISION_TIMEZONE="${PROVISION_TIMEZONE:-UTC}"
PROVISION_PACKAGES="${PROVISION_PACKAGES:-}"
PROVISION_EXTRA_REPOSITORY_PACKAGE="${PROVISION_EXTRA_REPOSITORY_PACKAGE:-}"
PROVISION_EXTRA_REPOSITORY_PACKAGES="${PROVISION_EXTRA_REPOSITORY_PACKAGES:-}"
PROVISION_PI_KERNEL_ARGS="${PROVISION_PI_KERNEL_ARGS:-}"
PROVISION_DISABLE_ROOT="${PROVISION_DISABLE_ROOT:-yes}"
# The running kernel's command line, and what reboots the host (tests point both elsewhere).
PROVISION_RUNNING_CMDLINE="${PROVISION_RUNNING_CMDLINE:-/proc/cmdline}"
PROVISION_REBOOT_COMMAND="${PROVISION_REBOOT_COMMAND:-}"
REBOOT_NEEDED=no

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C
CHANGED=()

changed() {
  CHANGED+=("$1")
  echo "changed: $1"
}

systemd_running() {
  [ -d /run/systemd/system ]
}

# ensure_file PATH CONTENT [MODE [CHECK...]]: write PATH when its content or mode differs (a symlink
# at PATH is replaced, never written through). The content goes to a temporary file beside PATH with
# an unpredictable name (mktemp: created exclusively, mode 0600, so nothing planted in a
# user-writable directory such as ~/.ssh is followed), is checked with CHECK when one is given (the
# temporary file's path is its last argument), and only then renamed over PATH: a rejected file
# never takes effect. Names with a dot are skipped by sudo's #includedir, so a temporary file in
# /etc/sudoers.d is never read as sudoers either.
ensure_file() {
  local path=$1 content=$2 mode=${3:-0644} current="" dir tmp
  shift "$(($# < 3 ? $# : 3))"
  if [ -f "$path" ] && [ ! -L "$path" ]; then
    current=$(cat "$path"; printf x)
    current=${current%x}
  fi
  if [ -L "$path" ] || [ "$current" != "$content" ] || [ "$(stat -c %a "$path" 2>/dev/null)" != "${mode#0}" ]; then
    dir=$(dirname "$path")
    mkdir -p "$dir"
    tmp=$(mktemp "$dir/.$(basename "$path").XXXXXXXX")
    printf '%s' "$content" > "$tmp"
    chmod "$mode" "$tmp"
    if [ "$#" -gt 0 ] && ! "$@" "$tmp"; then
      rm -f "$tmp"
      echo "refused $path: '$*' rejects the new content" >&2
      return 1
    fi
    mv -f "$tmp" "$path"
    changed "$path"
  fi
}

package_installed() {
  case "$PROVISION_PACKAGE_MANAGER" in
    apt) [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ] ;;
    dnf) rpm -q --quiet "$1" ;;
    *) echo "unknown package manager: $PROVISION_PACKAGE_MANAGER" >&2; exit 2 ;;
  esac
}

# install_packages NAME...: install the ones missing; the package cache is refreshed first.
install_packages() {
  local missing=() name
  for name in "$@"; do
    package_installed "$name" || missing+=("$name")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  case "$PROVISION_PACKAGE_MANAGER" in
    apt)
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
      ;;
    dnf)
      dnf -y -q makecache
      dnf -y -q install "${missing[@]}"
      ;;
  esac
  changed "packages ${missing[*]}"
}

provision_packages() {
  local names=()
  read -r -a names <<< "$PROVISION_PACKAGES"
  install_packages "${names[@]}"
  if [ -n "$PROVISION_EXTRA_REPOSITORY_PACKAGES" ]; then
    install_packages "$PROVISION_EXTRA_REPOSITORY_PACKAGE"
    read -r -a names <<< "$PROVISION_EXTRA_REPOSITORY_PACKAGES"
    install_packages "${names[@]}"
  fi
}

provision_user() {
  local user=$PROVISION_USER home
  if ! id -u "$user" >/dev/null 2>&1; then
    useradd --create-home --shell "$PROVISION_SHELL" --groups "$PROVISION_ADMIN_GROUP" "$user"
    changed "user $user"
  fi
  if [[ " $(id -nG "$user") " != *" $PROVISION_ADMIN_GROUP "* ]]; then
    usermod --append --groups "$PROVISION_ADMIN_GROUP" "$user"
    changed "user $user in group $PROVISION_ADMIN_GROUP"
  fi
  if [ "$(getent passwd "$user" | cut -d: -f7)" != "$PROVISION_SHELL" ]; then
    usermod --shell "$PROVISION_SHELL" "$user"
    changed "shell of $user"
  fi
  home=$(getent passwd "$user" | cut -d: -f6)
  if [ ! -d "$home/.ssh" ]; then
    install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
    changed "$home/.ssh"
  fi
  ensure_file "$home/.ssh/authorized_keys" "$PROVISION_SSH_KEYS"$'\n' 0600
  chown -h "$user:$user" "$home/.ssh/authorized_keys"
  # Hosts provisioned as root (SSH-provisioned Linodes, LXC containers) keep root's key login: its
  # keys follow the operator's, so a rotated key reaches them with the next provisioning run.
  if [ "$PROVISION_DISABLE_ROOT" = no ]; then
    install -d -m 0700 /root/.ssh
    ensure_file /root/.ssh/authorized_keys "$PROVISION_SSH_KEYS"$'\n' 0600
  fi
  # sudo reads every file in /etc/sudoers.d, and one it cannot parse locks everyone out of sudo:
  # visudo checks the new file before it is installed.
  command -v visudo >/dev/null || { echo "visudo not found: cannot check the sudoers file" >&2; exit 1; }
  ensure_file "/etc/sudoers.d/90-homelab-$user" "$user ALL=(ALL) NOPASSWD:ALL"$'\n' 0440 visudo -cqf
}

# sshd takes the first value it reads and includes sshd_config.d/*.conf in name order at the top of
# sshd_config: 01- comes before cloud-init's 50-cloud-init.conf and the distributions' drop-ins.
SSHD_DROP_IN=/etc/ssh/sshd_config.d/01-homelab.conf

provision_ssh() {
  [ -d /etc/ssh/sshd_config.d ] || return 0
  local root_login=prohibit-password before
  [ "$PROVISION_DISABLE_ROOT" = yes ] && root_login=no
  before=$(cat "$SSHD_DROP_IN" 2>/dev/null || true)
  ensure_file "$SSHD_DROP_IN" \
    "PasswordAuthentication no"$'\n'"KbdInteractiveAuthentication no"$'\n'"PermitRootLogin $root_login"$'\n'
  if [ "$before" != "$(cat "$SSHD_DROP_IN")" ] && command -v sshd >/dev/null; then
    install -d -m 0755 /run/sshd  # privilege separation directory, which sshd -t checks for
    sshd -t  # a broken config fails here, before the running daemon reloads it
    if systemd_running; then
      systemctl reload ssh 2>/dev/null || systemctl reload sshd
    fi
  fi
}

provision_hostname() {
  local before
  before=$(cat /etc/hostname 2>/dev/null || true)
  ensure_file /etc/hostname "$PROVISION_HOSTNAME"$'\n'
  # Apply the running hostname only when the file changed: a re-run stays a no-op.
  if [ "$before" != "$PROVISION_HOSTNAME" ]; then
    if systemd_running; then
      hostnamectl set-hostname "$PROVISION_HOSTNAME"
    else
      hostname "$PROVISION_HOSTNAME"
    fi
  fi
}

# /etc/hosts: this host's names on 127.0.1.1 plus the environment's entries in a managed block;
# other lines are kept, earlier 127.0.1.1 lines (an old hostname) are dropped.
provision_hosts() {
  local wanted kept
  kept=$(awk '/^# BEGIN homelab/{skip=1} !skip && $1 != "127.0.1.1" {print} /^# END homelab/{skip=0}' /etc/hosts 2>/dev/null || true)
  wanted="$kept"$'\n'"# BEGIN homelab (managed by provision.sh)"$'\n'"127.0.1.1 $PROVISION_FQDN $PROVISION_HOSTNAME"$'\n'
  if [ -n "$PROVISION_HOSTS_ENTRIES" ]; then
    wanted+="$PROVISION_HOSTS_ENTRIES"$'\n'
  fi
  wanted+="# END homelab"$'\n'
  ensure_file /etc/hosts "$wanted"
}

provision_timezone() {
  local zone=/usr/share/zoneinfo/$PROVISION_TIMEZONE
  if [ ! -e "$zone" ]; then
    echo "unknown timezone $PROVISION_TIMEZONE (no $zone)" >&2
    exit 1
  fi
  if [ "$(readlink /etc/localtime || true)" != "$zone" ]; then
    ln -sfn "$zone" /etc/localtime
    changed "timezone $PROVISION_TIMEZONE"
  fi
  if [ "$PROVISION_PACKAGE_MANAGER" = apt ]; then
    ensure_file /etc/timezone "$PROVISION_TIMEZONE"$'\n'
  fi
}

provision_role_files() {
  local before=${#CHANGED[@]}
  if declare -F provision_files >/dev/null; then
    provision_files
  fi
  # Load modules and sysctls now on a running system (never from a chroot: that is the host's kernel).
  if [ "${#CHANGED[@]}" -ne "$before" ] && systemd_running; then
    systemctl restart systemd-modules-load.service
    sysctl --system >/dev/null
    # A journald drop-in (Storage=persistent) applies on restart; journald then creates /var/log/journal.
    if [ -d /etc/systemd/journald.conf.d ]; then
      systemctl restart systemd-journald.service
    fi
  fi
}

# Raspberry Pi boards read the kernel command line from cmdline.txt (one line); add what the roles
# need, once. Takes effect at the next reboot.
provision_pi_kernel_args() {
  [ -n "$PROVISION_PI_KERNEL_ARGS" ] || return 0
  local cmdline="" candidate line new arg args=()
  for candidate in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
    if [ -f "$candidate" ]; then cmdline=$candidate; break; fi
  done
  [ -n "$cmdline" ] || return 0
  line=$(head -n 1 "$cmdline")
  new=$line
  read -r -a args <<< "$PROVISION_PI_KERNEL_ARGS"
  for arg in "${args[@]}"; do
    case " $new " in
      *" $arg "*) ;;
      *) new="$new $arg" ;;
    esac
  done
  if [ "$new" != "$line" ]; then
    ensure_file "$cmdline" "$new"$'\n'
    echo "reboot needed: $cmdline now has $PROVISION_PI_KERNEL_ARGS"
  fi
  # A reboot is needed while the running kernel lacks an argument (also when an earlier run wrote
  # the file but the host has not rebooted since); once it has them, a re-run changes nothing.
  local running
  running=$(cat "$PROVISION_RUNNING_CMDLINE" 2>/dev/null || true)
  for arg in "${args[@]}"; do
    case " $running " in
      *" $arg "*) ;;
      *) REBOOT_NEEDED=yes ;;
    esac
  done
}

# k3s refuses to start an agent without the memory cgroup ("failed to find memory cgroup"), and
# cmdline.txt is read only at boot. shutdown(8) with a delay creates /run/nologin at once (five
# minutes before the shutdown), so the operator's next login - the ready check - is refused until
# the host is back, and pulumi-command retries a refused login as a dial error.
reboot_for_kernel_args() {
  [ "$REBOOT_NEEDED" = yes ] || return 0
  changed "reboot for kernel arguments $PROVISION_PI_KERNEL_ARGS"
  if [ -n "$PROVISION_REBOOT_COMMAND" ]; then
    "$PROVISION_REBOOT_COMMAND"
  elif systemd_running; then
    shutdown -r +1 "homelab: reboot for kernel arguments $PROVISION_PI_KERNEL_ARGS"
  else
    echo "no systemd: reboot this host before it joins k3s"
  fi
}

provision_packages
provision_user
provision_ssh
provision_hostname
provision_hosts
provision_timezone
provision_role_files
provision_pi_kernel_args
reboot_for_kernel_args

if [ "${#CHANGED[@]}" -eq 0 ]; then
  echo "no changes"
else
  echo "provisioned $PROVISION_FQDN: ${#CHANGED[@]} changes"
fi
