#!/usr/bin/env bash
# Runs Debian's janus (VideoRoom plugin + HTTP transport only) in a private network namespace, in the
# foreground, for trying the Janus connector by hand. Janus never offers loopback candidates, so it, the
# bot and the publishers must share a namespace with one ordinary address (INTEROP.md); the tests
# (bots/tests/janus_videoroom.rs) do the same by themselves.
#
#   sudo scripts/janus-netns.sh [PORT] [ROOM]          # defaults: 8088, 1234
#   sudo ip netns exec panelist-janus <command ...>     # in another terminal: bot, curl, benchmark
#
# Meeting URL for the bot: janus+http://198.18.0.1:PORT/janus?room=ROOM. Ctrl-C stops Janus and removes the
# namespace. Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN), iproute2 and `apt-get install janus`.
set -euo pipefail

port="${1:-8088}"
room="${2:-1234}"
ns=panelist-janus
addr=198.18.0.1
lib="${PANELIST_JANUS_LIB:-/usr/lib/$(uname -m)-linux-gnu/janus}"

command -v janus >/dev/null || { echo "janus-netns: janus is not installed (apt-get install janus)" >&2; exit 2; }
[ -e "$lib/plugins/libjanus_videoroom.so" ] || { echo "janus-netns: no VideoRoom plugin under $lib" >&2; exit 2; }

conf="$(mktemp -d)"
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$conf"; }
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
# 198.18.0.0/15 is RFC 2544's benchmarking range: routed nowhere, so nothing leaves the namespace.
ip -n "$ns" link add pnl0 type veth peer name pnl1
ip -n "$ns" addr add "$addr/32" dev pnl0
ip -n "$ns" link set pnl0 up
ip -n "$ns" link set pnl1 up

# Only the two libraries this needs are linked in, so Janus loads nothing else (no admin API, no websockets).
mkdir -p "$conf"/{plugins,transports,events,loggers}
ln -s "$lib/plugins/libjanus_videoroom.so" "$conf/plugins/"
ln -s "$lib/transports/libjanus_http.so" "$conf/transports/"
cat > "$conf/janus.jcfg" <<CFG
general: {
	configs_folder = "$conf"
	plugins_folder = "$conf/plugins"
	transports_folder = "$conf/transports"
	events_folder = "$conf/events"
	loggers_folder = "$conf/loggers"
	debug_level = 4
	session_timeout = 60
}
media: {
	ipv6 = false
	rtp_port_range = "20000-40000"
}
nat: {
	ice_enforce_list = "$addr"
	ignore_mdns = true
}
CFG
cat > "$conf/janus.transport.http.jcfg" <<CFG
general: {
	json = "compact"
	base_path = "/janus"
	http = true
	port = $port
	https = false
}
admin: {
	admin_http = false
}
CFG
cat > "$conf/janus.plugin.videoroom.jcfg" <<CFG
room-$room: {
	description = "Panelist room $room"
	publishers = 32
	audiocodec = "opus"
	videocodec = "vp8"
}
CFG

echo "janus-netns: meeting URL janus+http://$addr:$port/janus?room=$room (run clients with: ip netns exec $ns ...)" >&2
ip netns exec "$ns" janus --config "$conf/janus.jcfg" --configs-folder "$conf"
