"""The lab's stand-in for the NSX Policy plugin (vmware-nsx ``nsx_p``), registered under that plugin's alias
``vmware_nsxp`` in ``neutron.core_plugins``: ML2 with the ``lab_nsx`` mechanism driver (nsx_ml2.py), which realises
networks, ports and security groups in the lab NSX manager as nsx_p does in NSX, through the same library.

nsx_p is not ML2, but what it shows the API (extensions, provider attributes, port bindings with the logical switch)
and what it puts into NSX is what this combination shows and puts; the archived vmware-nsx package itself does not
install next to neutron 29.
"""

from neutron.plugins.ml2 import plugin as ml2_plugin


class LabNsxPolicyPlugin(ml2_plugin.Ml2Plugin):
    """ML2, named as the NSX Policy plugin: the lab's Neutron behaves as with NSX-T."""
