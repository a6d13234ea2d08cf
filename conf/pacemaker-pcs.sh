#!/bin/sh
# A three-node active/active VIP with the ldirectord role, under Pacemaker, with pcs.
# Install the agents on every node first:  aavip agents install
set -e

# The VIP: one clone instance per bucket, several allowed on one node (a survivor takes a dead
# node's instance), globally unique so each instance is its own bucket.
pcs resource create vip ocf:aavip:vip \
    ip=198.18.0.100 cidr_netmask=24 nic=eth0 \
    clusterip_hash=sourceip-sourceport backend=auto \
    op monitor interval=10s timeout=20s \
    clone clone-max=3 clone-node-max=3 globally-unique=true

# The director role (health checks → IPVS weights) on every node that carries the VIP.
pcs resource create ldirectord ocf:aavip:ldirectord \
    configfile=/etc/ha.d/ldirectord.cf \
    op monitor interval=20s timeout=10s \
    clone
pcs constraint colocation add ldirectord-clone with vip-clone INFINITY
pcs constraint order vip-clone then ldirectord-clone
