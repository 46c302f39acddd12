"""Drivers for the stackproof lab.

Installed into the lab's own virtualenv next to nova, neutron and cinder; never imported by the suite.
"""
