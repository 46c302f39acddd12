"""The lab NSX manager: a small NSX-T Policy API service standing in for NSX (see README.md in the lab).

``model`` holds the resource table and the state (intent, realization, effective group membership);
``server`` serves it over HTTPS; ``tls`` makes its certificates; ``api`` is the lab's own stdlib client
(health, faults, provisioning); ``design`` the values it is built with; ``lab`` how the lab runs it. The faults
that act on NSX are in ``stackproof_lab/faults/nsx.py``, with every other fault's.
"""
