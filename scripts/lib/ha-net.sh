# shellcheck shell=bash
# The HA stack's network on one machine: a bridge with the operator's
# address (this root namespace), and one network namespace per host joined
# to it by a veth pair (eth0 inside). No default route anywhere: the hosts
# reach each other and nothing else. Sourced after ha-common.sh.
#
# Every namespace and link made is recorded in HA_DIR/netns first, so that
# ha-down removes exactly those, even after a failed start.

ha_net_record() { echo "$1 $2" >>"$HA_DIR/netns"; }

# ha_net_exists: any of our namespaces or the bridge exists already.
ha_net_exists() {
  local h
  ip link show "$(ha_bridge)" >/dev/null 2>&1 && return 0
  for h in $HA_HOSTS; do
    ip netns list | grep -qx "$(ha_ns "$h")\( (id: [0-9]*)\)\?" && return 0
  done
  return 1
}

# ha_net_private: every address of the topology is a private one (RFC 1918):
# the namespaces are given these, and nothing else is ever a target.
ha_net_private() {
  local h a
  for a in "$HA_OPERATOR" "${HA_NETWORK%/*}" $(for h in $HA_HOSTS; do ha_addr "$h"; done); do
    [[ $a =~ ^(10\.|172\.(1[6-9]|2[0-9]|3[01])\.|192\.168\.)[0-9.]+$ ]] \
      || die "$a is not a private address (deploy/ha/hosts.env, HA_NET): refusing to use it here"
  done
}

ha_net_up() {
  local br h ns link
  ha_net_private
  br=$(ha_bridge)
  ha_net_record link "$br"
  ip link add "$br" type bridge
  # With br_netfilter loaded (Docker loads it, and sets the FORWARD policy
  # to DROP), frames between two ports of a bridge pass iptables' FORWARD
  # chain; the per-bridge nf_call_iptables can only add to the global
  # sysctl. One rule lets this bridge's own traffic through, removed again
  # by ha-down; traffic to or from anywhere else is not concerned.
  if command -v iptables >/dev/null 2>&1; then
    ha_net_record iptables "$br"
    iptables -I FORWARD -i "$br" -o "$br" -j ACCEPT
  fi
  ip addr add "$HA_OPERATOR/${HA_NETWORK#*/}" dev "$br"
  ip link set "$br" up
  for h in $HA_HOSTS; do
    ns=$(ha_ns "$h") link=$(ha_link "$h")
    ha_net_record netns "$ns"
    ip netns add "$ns"
    ha_net_record link "$link"
    ip link add "$link" type veth peer name eth0 netns "$ns"
    ip link set "$link" master "$br" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(ha_addr "$h")/${HA_NETWORK#*/}" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

# ha_net_down: remove what ha_net_up recorded. A namespace still holding a
# process is reported (ha-down stops them first).
ha_net_down() {
  local kind name
  [ -f "$HA_DIR/netns" ] || return 0
  while read -r kind name; do
    case $kind in
      netns)
        if ip netns list | grep -q "^$name\( \|$\)"; then
          [ -z "$(ip netns pids "$name" 2>/dev/null)" ] || warn "$name: processes still inside: $(ip netns pids "$name" | tr '\n' ' ')"
          ip netns del "$name" || warn "could not delete namespace $name"
        fi
        ;;
      link) ip link del "$name" 2>/dev/null || true ;;
      iptables) iptables -D FORWARD -i "$name" -o "$name" -j ACCEPT 2>/dev/null || true ;;
    esac
  done < <(tac "$HA_DIR/netns")
  rm -f "$HA_DIR/netns"
}

# ha_isolate HOST / ha_reconnect HOST: cut / restore HOST's only link (its
# processes keep running, as on a host whose switch port died).
ha_isolate() { ip link set "$(ha_link "$1")" down; }
ha_reconnect() { ip link set "$(ha_link "$1")" up; }
ha_is_isolated() { ! ip link show "$(ha_link "$1")" 2>/dev/null | grep -q ',UP'; }

# ha_kill_host HOST: SIGKILL every process on HOST (all of its namespace),
# as a power cut would. The pid files stay: they are stale now.
ha_kill_host() {
  local pids
  pids=$(ip netns pids "$(ha_ns "$1")" 2>/dev/null | tr '\n' ' ')
  [ -n "${pids// /}" ] || return 0
  # shellcheck disable=SC2086
  kill -s KILL $pids 2>/dev/null || true
}
