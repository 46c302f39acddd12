"""The lab NSX manager: a small NSX-T Policy API service standing in for NSX (see README.md in the lab).

``model`` holds the resource table and the state (intent, realization, effective group membership);
``server`` serves it over HTTPS; ``tls`` makes its certificates; ``api`` is the lab's own stdlib client
(health, faults, provisioning); ``faults`` holds the lab faults that act on NSX.
"""
