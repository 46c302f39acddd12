"""NSX-1: Neutron runs the VMware NSX plugin, with the extensions the architecture relies on, and no nova-network."""

from __future__ import annotations

import pytest

from stackproof.findings import expect

pytestmark = [pytest.mark.nsx]

# The NSX-T plugins of vmware-nsx, by alias and by class (neutron.core_plugins entry points of vmware-nsx).
NSX_PLUGINS = frozenset({
    "vmware_nsxp", "vmware_nsxv3", "vmware_nsxtvd",
    "vmware_nsx.plugin.NsxPolicyPlugin", "vmware_nsx.plugin.NsxV3Plugin", "vmware_nsx.plugin.NsxTVDPlugin",
})
# security-group: groups on every port; port-security: per-port filtering and spoofguard; binding: where a port is
# bound and how (the logical switch in vif_details); provider: network_type and segmentation of each network.
EXTENSIONS = ("security-group", "port-security", "binding", "provider")


@pytest.mark.control(
    "SP-NSX-001",
    title="Neutron runs the NSX plugin with security groups, port security, bindings and provider networks",
    statement="OpenStack Networking provides network connectivity with the VMware NSX plug-in driver configured; "
              "security groups work on vSphere, which legacy networking (nova-network) could not do.",
)
@pytest.mark.readonly
def test_neutron_runs_the_nsx_plugin(cloud, hosts, target) -> None:
    aliases = {extension.alias for extension in cloud.network.extensions()}
    missing = [alias for alias in EXTENSIONS if alias not in aliases]
    expect(not missing, f"the networking API lacks extension(s) {', '.join(missing)}",
           expected=f"extensions {', '.join(EXTENSIONS)}", found=f"{len(aliases)} extensions, without "
           f"{', '.join(missing)}", where="network API /v2.0/extensions")
    legacy = [f"{s.binary} on {s.host} ({s.state}/{s.status})" for s in cloud.compute.services()
              if s.binary == "nova-network"]
    expect(not legacy, "a nova-network service is registered: legacy networking is still around",
           expected="no nova-network service", found=legacy, where="compute API os-services")

    roles = [role for role in hosts.roles() if "neutron" in target.hosts[role].config]
    if not roles:
        pytest.skip("which core plugin Neutron runs shows only in neutron.conf, and the target gives "
                    "no neutron config path (hosts.<role>.config.neutron); the extensions and services passed")
    for role in roles:
        for host, conf in hosts.config(role, "neutron"):
            plugin = conf.get("DEFAULT", "core_plugin", fallback="").strip()
            expect(plugin in NSX_PLUGINS, f"Neutron's core plugin is {plugin or 'unset'}, not an NSX plugin",
                   expected=f"core_plugin in {sorted(NSX_PLUGINS)}", found=f"core_plugin={plugin or 'unset'}",
                   where=f"role {role}, host {host.backend.get_hostname()}, {target.hosts[role].config['neutron']}")
