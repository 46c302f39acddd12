"""The lab's guest: what runs in an instance's namespace, as a small cloud image boots. DHCP gives eth0 its
address, routes and MTU; the metadata service (169.254.169.254, the edge's proxy to nova) gives the server's key
pair; then sshd takes that key as root. Its output is its console log, in its folder on the node."""

from __future__ import annotations

import os
from pathlib import Path

from stackproof_lab.dataplane.commands import inside, run, running, stop
from stackproof_lab.dataplane.metadata_proxy import METADATA_ADDRESS
from stackproof_lab.dataplane.state import Vif, short
from stackproof_lab.ssh import KEY_ONLY_ROOT

# Each instance's guest side: its boot script, console log, sshd host key, authorized key and pid, in the node's
# /var/lib/nsx.
GUESTS = Path("/var/lib/nsx/guests")
GUEST_SSHD = """# The guest sshd of instance port {port}: the server's key pair (from the metadata service, as
# cloud-init puts it in) logs in as root. Written by the lab's NSX node agent.
ListenAddress 0.0.0.0
Port 22
HostKey {folder}/ssh_host_ed25519_key
AuthorizedKeysFile {folder}/authorized_keys
PidFile {folder}/sshd.pid
StrictModes no
LogLevel ERROR
""" + KEY_ONLY_ROOT + "\n"
# The guest's boot, as a cloud image's: DHCP for eth0 (address, routes, MTU), the key pair from the metadata
# service, then sshd. Bounded: a guest without a lease or metadata still boots, as a VM does, and says so on
# its console. It keeps its pid (exec), so guest.pid names the guest from boot to sshd.
GUEST_BOOT = """#!/bin/sh
# The lab guest of instance port {port}; written by the lab's NSX node agent. Its output is the console log.
cd {folder} || exit 1
exec >> console.log 2>&1
echo $$ > guest.pid
echo "boot: $(date -u +%FT%TZ)"
ip link set lo up
ip link set eth0 up
leased=
for round in 1 2 3 4 5 6; do  # ten DISCOVERs a second apart per round: a minute in all
  if busybox udhcpc -f -q -n -i eth0 -t 10 -T 1 -A 1 -O staticroutes -O mtu -s {folder}/dhcp-event; then
    leased=1
    break
  fi
done
key=
if [ -n "$leased" ]; then
  for try in $(seq 60); do
    code=$(curl -s -o key.new -w '%{{http_code}}' --max-time 5 {metadata}/latest/meta-data/public-keys/0/openssh-key)
    case "$code" in
      200) key=1; break ;;
      404) echo "metadata: this server has no key pair"; break ;;
    esac
    sleep 1
  done
  [ -n "$key" ] || [ "$code" = 404 ] || echo "metadata: no answer after 60 tries (last HTTP $code)"
else
  echo "DHCP: no lease within a minute; booting without an address"
fi
if [ -n "$key" ]; then
  mv key.new authorized_keys
  echo "metadata: key pair installed"
else
  rm -f key.new
  : > authorized_keys
fi
chmod 600 authorized_keys
exec /usr/sbin/sshd -D -f {folder}/sshd_config
"""
# udhcpc's events (busybox): configure eth0 from the lease. Option 121 (classless routes) replaces the router
# option when present (RFC 3442): the DHCP server sends the metadata route and the default route in it.
DHCP_EVENT = """#!/bin/sh
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface" ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface"; shift 2; done
    else
      for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    fi
    echo "DHCP: $interface $ip/$mask from $serverid, routes: ${staticroutes:-default via $router}, MTU ${mtu:-unset}" ;;
esac
"""


def folder_of(port_id: str) -> Path:
    return GUESTS / short(port_id)


def boot(vif: Vif) -> None:
    """Boot the instance's guest in its namespace (GUEST_BOOT), in the background: DHCP and metadata take a few
    seconds, and the agent's turn goes on."""
    folder = folder_of(vif.port_id)
    stop(folder / "guest.pid")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = folder / "ssh_host_ed25519_key"
    if not key.exists():
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"guest-{short(vif.port_id)}", "-f", str(key))
    (folder / "sshd_config").write_text(GUEST_SSHD.format(port=vif.port_id, folder=folder))
    (folder / "dhcp-event").write_text(DHCP_EVENT)
    (folder / "boot").write_text(GUEST_BOOT.format(port=vif.port_id, folder=folder,
                                                   metadata=f"http://{METADATA_ADDRESS}"))
    for script in ("dhcp-event", "boot"):
        os.chmod(folder / script, 0o755)
    inside(vif.namespace, "setsid", "-f", str(folder / "boot"))


def is_running(vif: Vif) -> bool:
    """Whether the guest runs: its boot, then (the same pid) its sshd."""
    folder = folder_of(vif.port_id)
    return running(folder / "guest.pid", str(folder))


def shut_down(port_id: str) -> None:
    stop(folder_of(port_id) / "guest.pid")
