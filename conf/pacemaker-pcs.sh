#!/bin/sh
# A three-node active/active VIP with the ldirectord role, under Pacemaker, with pcs: the usual
# cloned ocf:heartbeat:IPaddr2 + ocf:heartbeat:ldirectord set-up, with aavip's agents instead.
# Install the agents on every node first:  aavip agents install
# To build a CIB file offline instead of changing the live cluster:  PCS="pcs -f cib.xml" sh conf/pacemaker-pcs.sh
set -e
: "${PCS:=pcs}"

# The VIP: one clone instance per bucket, several allowed on one node (a survivor takes a dead
# node's instance), globally unique so each instance is its own bucket (instance N serves bucket N+1).
$PCS resource create vip ocf:aavip:vip \
    ip=198.18.0.100 cidr_netmask=24 nic=eth0 \
    clusterip_hash=sourceip-sourceport backend=auto \
    op monitor interval=10s timeout=20s \
    clone clone-max=3 clone-node-max=3 globally-unique=true

# The director role (health checks → IPVS weights) on every node that carries the VIP.
$PCS resource create ldirectord ocf:aavip:ldirectord \
    configfile=/etc/ha.d/ldirectord.cf \
    op monitor interval=20s timeout=10s \
    clone
$PCS constraint colocation add ldirectord-clone with vip-clone INFINITY
$PCS constraint order vip-clone then ldirectord-clone
