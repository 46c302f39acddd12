"""NSX's data plane in the lab: a node agent per transport node makes segments, instances, the distributed
firewall and routers real (state.py reads what, realize.py makes it, render.py writes the nftables)."""
