#!/bin/sh
# The VIP follows HAProxy under Pacemaker (run after conf/pacemaker-pcs.sh): HAProxy cloned on every
# node, and the VIP's instances only where it runs. One failed monitor (migration-threshold=1) bans
# HAProxy from that node, so the node's VIP instance moves to another; `pcs resource cleanup
# haproxy` lets it back. No order constraint: HAProxy binding the VIP needs
# net.ipv4.ip_nonlocal_bind=1 (or a wildcard bind), and an order between the clones would restart
# every VIP instance whenever one HAProxy restarts. Without Pacemaker, `track:` in cluster.yaml
# does the same (README: Tracked services).
set -e
: "${PCS:=pcs}"

$PCS resource create haproxy systemd:haproxy \
    op monitor interval=1s timeout=5s \
    meta migration-threshold=1 \
    clone
$PCS constraint colocation add vip-clone with haproxy-clone INFINITY
