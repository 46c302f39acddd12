"""An ML2 mechanism driver that binds every port without an agent.

In-tree mechanism drivers only bind a port when an L2 agent on the port's host reported in (the test
driver binds magic host names only), so without agents ports end ``binding_failed`` and nova refuses
to boot. The lab has no data plane, so this driver binds any port on any segment the way the Open
vSwitch driver would describe it, and marks it ACTIVE at once.
"""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class LabBindingMechanismDriver(api.MechanismDriver):
    """Bind every port as vif_type ovs, vnic normal, status ACTIVE."""

    def initialize(self):
        LOG.info("lab_binder: binding all ports without agents (stackproof lab)")

    def bind_port(self, context):
        if context.current.get(portbindings.VNIC_TYPE, portbindings.VNIC_NORMAL) != portbindings.VNIC_NORMAL:
            return
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
