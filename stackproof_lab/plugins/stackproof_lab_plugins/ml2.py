"""An ML2 mechanism driver that binds every port without an agent.

In-tree mechanism drivers only bind a port when an L2 agent on the port's host reported in (the test
driver binds magic host names only), so without agents ports end ``binding_failed`` and nova refuses
to boot. The lab has no data plane, so this driver binds any port on any segment the way the NSX
plugin describes it (vif_type ovs, the logical switch id in vif_details), and marks it ACTIVE at once.

nova's VMware driver backs the VM's NIC with the opaque network whose id is the port's
``vif_details['nsx-logical-switch-id']`` (without it, the Neutron network id, which no vCenter knows):
``[lab_binder] nsx_logical_switch_id`` is the lab vCenter's opaque network sp-nsx-tenant.
"""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

lab_binder_opts = [
    cfg.StrOpt(
        "nsx_logical_switch_id",
        help="NSX logical switch id put in every port's vif_details (nsx-logical-switch-id), as the NSX "
        "plugin does; the lab vCenter's opaque network has this id.",
    ),
]
cfg.CONF.register_opts(lab_binder_opts, "lab_binder")
NSX_LOGICAL_SWITCH_ID = "nsx-logical-switch-id"  # the key vmware-nsx sets and nova's VMware driver reads


class LabBindingMechanismDriver(api.MechanismDriver):
    """Bind every port as vif_type ovs, vnic normal, status ACTIVE."""

    def initialize(self):
        self.logical_switch = cfg.CONF.lab_binder.nsx_logical_switch_id
        LOG.info(
            "lab_binder: binding all ports without agents (stackproof lab), NSX logical switch %s",
            self.logical_switch,
        )

    def bind_port(self, context):
        if context.current.get(portbindings.VNIC_TYPE, portbindings.VNIC_NORMAL) != portbindings.VNIC_NORMAL:
            return
        details = {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False}
        if self.logical_switch:
            details[NSX_LOGICAL_SWITCH_ID] = self.logical_switch
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID], portbindings.VIF_TYPE_OVS, details, status=constants.PORT_STATUS_ACTIVE
            )
            return
