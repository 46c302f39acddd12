"""The lab NSX driver's trunks: Neutron's trunk service (VLAN sub-ports on an instance's port) realized in NSX as
vmware-nsx's trunk driver does. A sub-port is bound where its parent is, owned ``trunk:subport``, and its segment
port gets a CHILD attachment naming the parent's VIF and the sub-port's VLAN (``context_id``, ``traffic_tag``): the
transport node hands the parent VIF's frames tagged with that VLAN to the sub-port's segment, untagged, and back.
Agentless: a trunk is ACTIVE once NSX holds its sub-ports (nsx_ml2._port_on_backend builds the attachment)."""

from neutron.objects import trunk as trunk_obj
from neutron.services.trunk.drivers import base
from neutron_lib.api.definitions import portbindings
from neutron_lib.callbacks import events, registry, resources
from neutron_lib.plugins import directory
from neutron_lib.services.trunk import constants as trunk_consts
from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger(__name__)
NAME = "lab_nsx"  # the mechanism driver's entry point name (ml2 mechanism_drivers)
SUBPORT_OWNER = trunk_consts.TRUNK_SUBPORT_OWNER
ATTACHMENT_CHILD = "CHILD"  # a segment port attachment that rides its parent VIF on a VLAN (traffic_tag)


def subport_of(context, port_id):
    """(parent port id, VLAN) of a trunk's sub-port, or None when the port is no sub-port (now)."""
    subport = trunk_obj.SubPort.get_object(context, port_id=port_id)
    if subport is None or subport.segmentation_type != trunk_consts.SEGMENTATION_TYPE_VLAN:
        return None
    trunk = trunk_obj.Trunk.get_object(context, id=subport.trunk_id)
    return (trunk.port_id, subport.segmentation_id) if trunk else None


class LabNsxTrunkDriver(base.DriverBase):

    @property
    def is_loaded(self):
        try:
            return NAME in cfg.CONF.ml2.mechanism_drivers
        except cfg.NoSuchOptError:
            return False

    @classmethod
    def create(cls):
        # Bound parents may be trunked: a nested cloud's node adds VLANs to its running instance.
        return cls(NAME, (portbindings.VIF_TYPE_OVS, "dvs"), (trunk_consts.SEGMENTATION_TYPE_VLAN,),
                   agent_type=None, can_trunk_bound_port=True)

    # Re-marked: the base class subscribes only methods that carry the mark, and an override does not inherit it.
    @registry.receives(resources.TRUNK_PLUGIN, [events.AFTER_INIT])
    def register(self, resource, event, trigger, payload=None):
        super().register(resource, event, trigger, payload=payload)
        registry.subscribe(self._trunk_created, resources.TRUNK, events.AFTER_CREATE)
        registry.subscribe(self._trunk_deleted, resources.TRUNK, events.AFTER_DELETE)
        registry.subscribe(self._subports_added, resources.SUBPORTS, events.AFTER_CREATE)
        registry.subscribe(self._subports_removed, resources.SUBPORTS, events.AFTER_DELETE)
        registry.subscribe(self._port_updated, resources.PORT, events.AFTER_UPDATE)
        LOG.info("lab_nsx: trunks as NSX child segment ports (VLAN sub-ports)")

    @property
    def _core(self):
        return directory.get_plugin()

    def _bind(self, context, trunk, subports):
        """Sub-ports follow their parent's host; updating them re-writes their NSX segment ports as CHILD ports."""
        parent = self._core.get_port(context, trunk.port_id)
        for subport in subports:
            self._core.update_port(context, subport.port_id, {"port": {
                portbindings.HOST_ID: parent.get(portbindings.HOST_ID) or "", "device_owner": SUBPORT_OWNER}})
        trunk.update(status=trunk_consts.TRUNK_ACTIVE_STATUS)

    def _unbind(self, context, subports):
        for subport in subports:
            try:
                self._core.update_port(context, subport.port_id,
                                       {"port": {portbindings.HOST_ID: "", "device_owner": ""}})
            except Exception as exc:  # the port may be deleted already; the others still leave the trunk
                LOG.warning("lab_nsx: sub-port %s not unbound: %s", subport.port_id, exc)

    def _trunk_created(self, resource, event, trigger, payload):
        trunk = payload.states[0]
        self._bind(payload.context, trunk, trunk.sub_ports)

    def _trunk_deleted(self, resource, event, trigger, payload):
        self._unbind(payload.context, payload.states[0].sub_ports)

    def _subports_added(self, resource, event, trigger, payload):
        self._bind(payload.context, payload.states[1], payload.metadata["subports"])

    def _subports_removed(self, resource, event, trigger, payload):
        self._unbind(payload.context, payload.metadata["subports"])

    def _port_updated(self, resource, event, trigger, payload):
        """A trunk's parent bound to a host (its server booted, or moved): its sub-ports follow."""
        original, current = payload.states[0], payload.states[1]
        if original.get(portbindings.HOST_ID) == current.get(portbindings.HOST_ID):
            return
        trunk = trunk_obj.Trunk.get_object(payload.context, port_id=current["id"])
        if trunk is not None:
            self._bind(payload.context, trunk, trunk.sub_ports)
