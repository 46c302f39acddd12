"""The lab's L3 service plugin: neutron's own (routers and floating IPs in its database, no L3 agent), reporting a
floating IP's status as the NSX Policy plugin does: ACTIVE once it is associated with a port, DOWN when it is not.
NSX realizes the NAT (the lab's edge node agent makes it within a second); no agent reports back, so neutron's
plugin alone would leave every floating IP DOWN, which clients (tempest among them) wait on."""

from neutron.services.l3_router import l3_router_plugin
from neutron_lib import constants


def _status(floatingip: dict) -> str:
    return constants.FLOATINGIP_STATUS_ACTIVE if floatingip.get("port_id") else constants.FLOATINGIP_STATUS_DOWN


class LabNsxL3Plugin(l3_router_plugin.L3RouterPlugin):
    def create_floatingip(self, context, floatingip):
        created = super().create_floatingip(context, floatingip)
        return self._report(context, created)

    def update_floatingip(self, context, id, floatingip):
        return self._report(context, super().update_floatingip(context, id, floatingip))

    def _report(self, context, floatingip: dict) -> dict:
        status = _status(floatingip)
        if floatingip.get("status") != status:
            self.update_floatingip_status(context, floatingip["id"], status)
            floatingip["status"] = status
        return floatingip
