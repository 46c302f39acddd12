"""``lab_nsx``: an ML2 mechanism driver that makes the lab's Neutron behave as with the NSX Policy plugin (vmware-nsx
``nsx_p``), against the lab NSX manager, through vmware-nsxlib (the plugin's own client, the same calls):

- a network is a segment with the network's id, in the overlay transport zone (Geneve networks) or the VLAN one;
- a port is a segment port with the port's id, its addresses as address bindings, its security groups as tags
  (scope ``os-security-group``) and, when a device owns it, the port id as attachment (the VIF id the hypervisor
  plugs in: nova's VMware driver sets the NIC's externalId to it);
- a security group is a group (ports tagged with its id) and a security policy (the group's id) in the project's
  domain, each rule one policy rule with its own service and, for a remote prefix, its own group; a global default
  section ends with Block All, so a port whose groups allow nothing gets nothing;
- a port binds without agents as vif_type ovs with ``vif_details['nsx-logical-switch-id']`` = the logical switch
  id of its network's segment, read from NSX's realized state. nova's VMware driver backs the NIC with the opaque
  network of that id (type nsx.LogicalSwitch, externalId = port id); a KVM compute plugs it into its NSX bridge.
  A segment that is not realized binds without it, as nsx_p's ``_get_network_nsx_id`` returns None.

The lab's core plugin is ML2 with this driver, registered as ``vmware_nsxp`` (nsx_plugin.py).
"""

from __future__ import annotations

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.callbacks import events, registry, resources
from neutron_lib.plugins import directory
from neutron_lib.plugins.ml2 import api
from oslo_config import cfg
from oslo_log import log as logging
from vmware_nsxlib.v3 import cluster, nsx_constants
from vmware_nsxlib.v3 import config as nsxlib_config
from vmware_nsxlib.v3 import exceptions as nsxlib_exc
from vmware_nsxlib.v3 import utils as nsxlib_utils
from vmware_nsxlib.v3.policy import NsxPolicyLib
from vmware_nsxlib.v3.policy import constants as policy_constants

from stackproof_lab_plugins import nsx_trunk

LOG = logging.getLogger(__name__)

opts = [
    cfg.StrOpt("nsx_api_managers", help="URL of the NSX manager (https://host:port)"),
    cfg.StrOpt("nsx_api_user", default="admin"),
    cfg.StrOpt("nsx_api_password", secret=True),
    cfg.StrOpt("ca_file", help="CA certificate the NSX manager is verified with"),
    cfg.StrOpt("overlay_tz", help="id of the overlay transport zone (Geneve networks)"),
    cfg.StrOpt("vlan_tz", help="id of the VLAN transport zone (VLAN and flat networks)"),
    cfg.ListOpt("vmware_hosts", default=[], help="hosts of VMware nova-computes"),
    cfg.BoolOpt("vmware_bind_dvs", default=False,
                help="FAULT (vmware-port-bound-as-portgroup): bind the ports of vmware_hosts as vif_type dvs, a "
                     "vSphere portgroup named after the network (as the DVS plugin does), instead of the segment's "
                     "logical switch"),
]
cfg.CONF.register_opts(opts, "lab_nsx")

LOGICAL_SWITCH_KEY = "nsx-logical-switch-id"  # the key vmware-nsx sets and nova's VMware driver reads
VIF_TYPE_DVS = "dvs"  # nova's model.VIF_TYPE_DVS (neutron-lib has no constant for it): a vSphere portgroup
SG_TAG_SCOPE = "os-security-group"  # nsx_p's NSX_P_SECURITY_GROUP_TAG
PORT_TAG_SCOPE = "os-neutron-port-id"  # nsx_p's NSX_P_PORT_RESOURCE_TYPE
DEFAULT_DOMAIN = policy_constants.DEFAULT_DOMAIN
DEFAULT_GROUP, DEFAULT_SECTION = "os_default_group", "os_default_section"
ROUTER_INTERFACE = "network:router_interface"


def nsx_name(name, uuid):
    """nsx_p names NSX objects after the Neutron name and id (vmware_nsx.common.utils.get_name_and_uuid)."""
    return f"{(name or 'object')[:67]}_{uuid[:5]}...{uuid[-5:]}"


class _TrustedCaProvider(cluster.NSXRequestsHTTPProvider):
    """requests lets $REQUESTS_CA_BUNDLE override a session's own CA file: the manager is verified with ca_file."""

    def get_default_headers(self, session, *args, **kwargs):
        session.trust_env = False
        return super().get_default_headers(session, *args, **kwargs)


class LabNsxMechanismDriver(api.MechanismDriver):

    def initialize(self):
        conf = cfg.CONF.lab_nsx
        self.overlay_tz, self.vlan_tz = conf.overlay_tz, conf.vlan_tz
        self.nsx = NsxPolicyLib(nsxlib_config.NsxLibConfig(
            nsx_api_managers=[conf.nsx_api_managers], username=conf.nsx_api_user, password=conf.nsx_api_password,
            ca_file=conf.ca_file, insecure=False, http_provider=_TrustedCaProvider(), http_timeout=10,
            http_read_timeout=30, retries=1, max_attempts=2, realization_max_attempts=5, realization_wait_sec=0.5,
            plugin_scope="OS Neutron Plugin", plugin_tag="os-api-version", plugin_ver="stackproof-lab"))
        self._default_rules()
        # Made before the trunk service plugin loads: it registers at the plugin's AFTER_INIT.
        self.trunk_driver = nsx_trunk.LabNsxTrunkDriver.create()
        for resource, event, handler in (
            (resources.SECURITY_GROUP, events.AFTER_CREATE, self._sg_created),
            (resources.SECURITY_GROUP, events.AFTER_UPDATE, self._sg_updated),
            (resources.SECURITY_GROUP, events.AFTER_DELETE, self._sg_deleted),
            (resources.SECURITY_GROUP_RULE, events.AFTER_CREATE, self._rule_created),
            (resources.SECURITY_GROUP_RULE, events.AFTER_DELETE, self._rule_deleted),
        ):
            registry.subscribe(handler, resource, event)
        LOG.info("lab_nsx: networks, ports and security groups in NSX at %s (overlay transport zone %s)",
                 conf.nsx_api_managers, self.overlay_tz)

    # --- networks ----------------------------------------------------------------------------------

    def _segment_args(self, context):
        segment = (context.network_segments or [{}])[0]
        network_type = segment.get(api.NETWORK_TYPE)
        if network_type == constants.TYPE_GENEVE:
            return {"transport_zone_id": self.overlay_tz}
        if network_type in (constants.TYPE_VLAN, constants.TYPE_FLAT):
            return {"transport_zone_id": self.vlan_tz, "vlan_ids": [str(segment.get(api.SEGMENTATION_ID) or 0)]}
        return None

    def create_network_postcommit(self, context):
        network = context.current
        args = self._segment_args(context)
        if args is None:
            LOG.warning("lab_nsx: network %s has no NSX segment type; not realised in NSX", network["id"])
            return
        tags = self.nsx.build_v3_tags_payload(network, resource_type="os-neutron-net-id",
                                              project_name=context.plugin_context.project_name)
        self.nsx.segment.create_or_overwrite(nsx_name(network["name"] or "network", network["id"]),
                                             segment_id=network["id"], description=network.get("description"),
                                             tags=tags, **args)

    def update_network_postcommit(self, context):
        # The same PATCH as at creation: it renames, and makes a segment NSX lost (or never had) again.
        self.create_network_postcommit(context)

    def delete_network_postcommit(self, context):
        try:
            self.nsx.segment.delete(context.current["id"])
        except nsxlib_exc.ManagerError as exc:
            LOG.error("lab_nsx: segment %s not deleted: %s", context.current["id"], exc)

    # --- ports -------------------------------------------------------------------------------------

    def _port_on_backend(self, context):
        port = context.current
        bindings = None
        if port.get("port_security_enabled", True):
            bindings = [self.nsx.segment_port.build_address_binding(ip["ip_address"], port["mac_address"])
                        for ip in port.get("fixed_ips") or []]
            bindings += [self.nsx.segment_port.build_address_binding(pair["ip_address"],
                                                                     pair.get("mac_address") or port["mac_address"])
                         for pair in port.get("allowed_address_pairs") or []]
        owner = port.get("device_owner") or ""
        vif_id = port["id"] if owner and owner != ROUTER_INTERFACE else None
        tags = [{"scope": SG_TAG_SCOPE, "tag": sg} for sg in port.get("security_groups") or []]
        tags += self.nsx.build_v3_tags_payload(port, resource_type=PORT_TAG_SCOPE,
                                               project_name=context.plugin_context.project_name)
        # A trunk's sub-port is a CHILD of its parent's VIF, on its VLAN (nsx_trunk).
        child = nsx_trunk.subport_of(context.plugin_context, port["id"]) if owner == nsx_trunk.SUBPORT_OWNER else None
        attachment = ({"attachment_type": nsx_trunk.ATTACHMENT_CHILD, "context_id": child[0],
                       "traffic_tag": child[1], "app_id": port["id"]} if child else {})
        self.nsx.segment_port.create_or_overwrite(
            nsx_name(port["name"] or "port", port["id"]), port["network_id"], port_id=port["id"],
            description=port.get("description"), address_bindings=bindings, vif_id=vif_id, tags=tags, **attachment)

    def create_port_postcommit(self, context):
        self._port_on_backend(context)

    def update_port_postcommit(self, context):
        self._port_on_backend(context)

    def delete_port_postcommit(self, context):
        try:
            self.nsx.segment_port.delete(context.current["network_id"], context.current["id"])
        except nsxlib_exc.ManagerError as exc:
            LOG.error("lab_nsx: segment port %s not deleted: %s", context.current["id"], exc)

    # --- binding -----------------------------------------------------------------------------------

    def _logical_switch(self, network_id):
        """The logical switch id of the network's segment, from NSX's realized state (None: not realized)."""
        try:
            info = self.nsx.segment.get_realization_info(network_id, entity_type="RealizedLogicalSwitch",
                                                         silent=True)
        except nsxlib_exc.ManagerError as exc:
            LOG.error("lab_nsx: realized state of segment %s unreadable: %s", network_id, exc)
            return None
        if info and info.get("state") == policy_constants.STATE_REALIZED:
            return info.get("realization_specific_identifier")
        LOG.error("lab_nsx: segment %s is not realized (%s): port bound without a logical switch", network_id,
                  (info or {}).get("state", "no realized state"))
        return None

    def bind_port(self, context):
        if context.current.get(portbindings.VNIC_TYPE, portbindings.VNIC_NORMAL) != portbindings.VNIC_NORMAL:
            return
        conf = cfg.CONF.lab_nsx
        for segment in context.segments_to_bind:
            if conf.vmware_bind_dvs and context.host in conf.vmware_hosts:
                context.set_binding(segment[api.ID], VIF_TYPE_DVS, {portbindings.CAP_PORT_FILTER: False},
                                    status=constants.PORT_STATUS_ACTIVE)
                return
            details = {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False}
            switch = self._logical_switch(context.network.current["id"])
            if switch:
                details[LOGICAL_SWITCH_KEY] = switch
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS, details,
                                status=constants.PORT_STATUS_ACTIVE)
            return

    # --- security groups ---------------------------------------------------------------------------

    def _default_rules(self):
        """nsx_p's default section: every Neutron port is in os_default_group, whose last rule blocks all, so
        traffic no security group allows is dropped (after DHCP, which ports need to get their address)."""
        condition = self.nsx.group.build_condition(cond_val=f"{PORT_TAG_SCOPE}|",
                                                   cond_key=policy_constants.CONDITION_KEY_TAG,
                                                   cond_member_type=policy_constants.CONDITION_MEMBER_PORT)
        self.nsx.group.create_or_overwrite_with_conditions(
            DEFAULT_GROUP, DEFAULT_DOMAIN, group_id=DEFAULT_GROUP, description="Default Group for the openstack plugin",
            conditions=[condition])
        scope = [self.nsx.group.get_path(DEFAULT_DOMAIN, DEFAULT_GROUP)]
        entries = [
            self.nsx.comm_map.build_entry("DHCP Reply", DEFAULT_DOMAIN, DEFAULT_SECTION, 1, sequence_number=1,
                                          service_ids=["DHCP-Client"], action=policy_constants.ACTION_ALLOW,
                                          scope=scope, direction=nsx_constants.IN),
            self.nsx.comm_map.build_entry("DHCP Request", DEFAULT_DOMAIN, DEFAULT_SECTION, 2, sequence_number=2,
                                          service_ids=["DHCP-Server"], action=policy_constants.ACTION_ALLOW,
                                          scope=scope, direction=nsx_constants.OUT),
            self.nsx.comm_map.build_entry("Block All", DEFAULT_DOMAIN, DEFAULT_SECTION, 3, sequence_number=3,
                                          service_ids=None, action=policy_constants.ACTION_DENY, scope=scope,
                                          direction=nsx_constants.IN_OUT),
        ]
        self.nsx.comm_map.create_with_entries(
            name=DEFAULT_SECTION, domain_id=DEFAULT_DOMAIN, map_id=DEFAULT_SECTION,
            description="This section is handled by OpenStack to contain default rules on security-groups.",
            category=policy_constants.CATEGORY_APPLICATION, entries=entries)

    def _sg_created(self, resource, event, trigger, payload):
        sg = payload.latest_state
        domain = sg.get("project_id") or sg["tenant_id"]
        self.nsx.domain.create_or_overwrite(name=domain, domain_id=domain,
                                            description=f"Domain for OS project {domain}")
        tags = self.nsx.build_v3_tags_payload(sg, resource_type="os-neutron-secg-id", project_name=None)
        name = nsx_name(sg["name"] or "securitygroup", sg["id"])
        condition = self.nsx.group.build_condition(cond_val=f"{SG_TAG_SCOPE}|{sg['id']}",
                                                   cond_key=policy_constants.CONDITION_KEY_TAG,
                                                   cond_member_type=policy_constants.CONDITION_MEMBER_PORT)
        self.nsx.group.create_or_overwrite_with_conditions(name, domain, group_id=sg["id"],
                                                           description=sg.get("description"),
                                                           conditions=[condition], tags=tags)
        self.nsx.comm_map.create_or_overwrite_map_only(name, domain, map_id=sg["id"],
                                                       description=sg.get("description"), tags=tags,
                                                       category=policy_constants.CATEGORY_ENVIRONMENT)
        for rule in sg.get("security_group_rules") or []:
            self._rule_on_backend(domain, sg["id"], rule)

    def _sg_updated(self, resource, event, trigger, payload):
        # The same PATCHes as at creation: they rename, and make what NSX lost (or never had) again.
        self._sg_created(resource, event, trigger, payload)

    def _sg_deleted(self, resource, event, trigger, payload):
        sg = payload.latest_state
        domain = sg.get("project_id") or sg["tenant_id"]
        try:
            self.nsx.comm_map.delete(domain, sg["id"])
            self.nsx.group.delete(domain, sg["id"])
            for rule in sg.get("security_group_rules") or []:
                self._rule_leftovers_deleted(domain, rule["id"], rule)
        except nsxlib_exc.ManagerError as exc:
            LOG.error("lab_nsx: NSX objects of security group %s not deleted: %s", sg["id"], exc)

    @staticmethod
    def _domain_of(context, sg_id):
        """The security group's project: its domain (a rule's own project may be another, e.g. an admin's)."""
        try:
            return directory.get_plugin().get_security_group(context.elevated(), sg_id,
                                                             fields=["project_id"])["project_id"]
        except Exception as exc:  # the group itself went meanwhile: its policy went with it
            LOG.info("lab_nsx: security group %s is gone (%s)", sg_id, exc)
            return None

    def _rule_created(self, resource, event, trigger, payload):
        rule = payload.latest_state
        domain = self._domain_of(payload.context, rule["security_group_id"])
        if domain:
            self._rule_on_backend(domain, rule["security_group_id"], rule)

    def _rule_deleted(self, resource, event, trigger, payload):
        sg_id = payload.metadata["security_group_id"]
        domain = self._domain_of(payload.context, sg_id)
        if not domain:
            return
        try:
            self.nsx.comm_map.delete_entry(domain, sg_id, payload.resource_id)
            self._rule_leftovers_deleted(domain, payload.resource_id, None)
        except nsxlib_exc.ManagerError as exc:
            LOG.error("lab_nsx: rule %s not deleted from NSX: %s", payload.resource_id, exc)

    def _rule_leftovers_deleted(self, domain, rule_id, rule):
        """The rule's own service and remote-prefix group (nsx_p makes one of each per rule)."""
        if rule is None or rule.get("protocol"):
            self.nsx.service.delete(rule_id)
        if rule is None or rule.get("remote_ip_prefix"):
            self.nsx.group.delete(domain, f"{rule_id}_remote_group")

    def _service(self, rule):
        """The rule's own NSX service (id = rule id), as nsx_p's _get_rule_service_id; None: any."""
        protocol = nsxlib_utils.get_l4_protocol_name(rule.get("protocol"))
        name = f"Service for OS rule {rule['id']}"
        if protocol in (nsx_constants.TCP, nsx_constants.UDP):
            low, high = rule.get("port_range_min"), rule.get("port_range_max")
            ports = [] if low is None else [str(low)] if low == high else [f"{low}-{high}"]
            return self.nsx.service.create_or_overwrite(name, service_id=rule["id"], protocol=protocol,
                                                        dest_ports=ports)
        if protocol in (nsx_constants.ICMPV4, nsx_constants.ICMPV6):
            return self.nsx.icmp_service.create_or_overwrite(
                name, service_id=rule["id"], version=4 if protocol == nsx_constants.ICMPV4 else 6,
                icmp_type=rule.get("port_range_min"), icmp_code=rule.get("port_range_max"))
        if protocol is not None:
            return self.nsx.ip_protocol_service.create_or_overwrite(name, service_id=rule["id"],
                                                                    protocol_number=protocol)
        return None

    def _rule_on_backend(self, domain, sg_id, rule):
        """One security policy rule per Neutron rule, as nsx_p's _create_security_group_backend_rule."""
        source, destination = None, sg_id
        if rule.get("remote_group_id"):
            source = rule["remote_group_id"]
        elif rule.get("remote_ip_prefix"):
            source = f"{rule['id']}_remote_group"
            self.nsx.group.create_or_overwrite_with_conditions(
                source, domain, group_id=source, description=f"{rule['remote_ip_prefix']} for OS rule {rule['id']}",
                conditions=[self.nsx.group.build_ip_address_expression([rule["remote_ip_prefix"]])])
        direction = nsx_constants.IN if rule.get("direction") == "ingress" else nsx_constants.OUT
        if direction == nsx_constants.OUT:
            source, destination = destination, source
        service = self._service(rule)
        ip_protocol = {constants.IPv4: nsx_constants.IPV4, constants.IPv6: nsx_constants.IPV6}.get(
            rule.get("ethertype"), nsx_constants.IPV4_IPV6)
        self.nsx.comm_map.create_entry(
            rule["id"], domain, sg_id, entry_id=rule["id"], description=rule.get("description"),
            service_ids=[service] if service else None, ip_protocol=ip_protocol,
            action=policy_constants.ACTION_ALLOW, source_groups=[source] if source else None,
            dest_groups=[destination] if destination else None, scope=[self.nsx.group.get_path(domain, sg_id)],
            direction=direction, logged=False)
