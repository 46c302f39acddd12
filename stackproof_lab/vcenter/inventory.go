package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// inventorySpec is the shape of the lab's vCenter (see architecture.md:
// clusters with DRS fully automated, a shared VMFS datastore mounted on
// every host of a cluster, vMotion, an NSX opaque network).
type inventorySpec struct {
	datacenter      string
	clusters        []string
	hostsPerCluster int
	opaqueNetwork   string
	opaqueNetworkID string
	instanceUUID    string
	datastoreRoot   string
	// sharedDatastore, when set, names a VMFS datastore mounted on every
	// host of every cluster: the nova-computes of both clusters can put
	// their image caches on it (what SP-VMDK-008 examines).
	sharedDatastore string
}

// inventory keeps what the extensions need to know about the topology.
type inventory struct {
	datacenter *simulator.Datacenter
	clusters   []*simulator.ClusterComputeResource
	datastores []*simulator.Datastore
	// presented lists, per datastore, the hosts its LUN is presented to:
	// what a rescan (RescanVmfs, RescanAllHba) mounts again after a fault
	// removed the datastore from a host.
	presented map[types.ManagedObjectReference][]types.ManagedObjectReference
}

func (inv *inventory) datastoreNames() []string {
	var names []string
	for _, ds := range inv.datastores {
		names = append(names, ds.Name)
	}
	return names
}

// The vCenter the lab presents: 7.0 U3 rather than the simulator's 6.5,
// since govmomi 0.24.2 speaks the 7.0 API. The same values go into
// vimServiceVersions.xml, which pyvmomi reads to choose its API version.
func pinAbout(about *types.AboutInfo, instanceUUID string) {
	about.Version = "7.0.3"
	about.Build = "20150588"
	about.FullName = "VMware vCenter Server 7.0.3 build-20150588"
	about.ApiVersion = "7.0.3.0"
	about.LicenseProductVersion = "7.0"
	about.InstanceUuid = instanceUUID
}

func buildInventory(spec *inventorySpec) (*simulator.Model, *inventory, error) {
	model := simulator.VPX()
	// The model's own generator makes DC0/DC0_C0/... with local datastores
	// of type OTHER (which nova ignores) mounted on one host only: build
	// everything below ourselves and keep only the service instance.
	model.Datacenter = 0
	model.Portgroup = 0
	model.Host = 0
	model.Cluster = 0
	model.ClusterHost = 0
	model.Datastore = 0
	model.Machine = 0
	model.Autostart = false
	pinAbout(&model.ServiceContent.About, spec.instanceUUID)
	if err := model.Create(); err != nil {
		return nil, nil, err
	}
	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	pinAbout(&si.Content.About, spec.instanceUUID)

	ctx := context.Background()
	// An in-process client: calls go straight to the simulator's handlers
	// through Service.RoundTrip, as the simulator's own Model does.
	client, err := vim25.NewClient(ctx, model.Service)
	if err != nil {
		return nil, nil, err
	}
	root := object.NewRootFolder(client)
	dcObj, err := root.CreateDatacenter(ctx, spec.datacenter)
	if err != nil {
		return nil, nil, err
	}
	folders, err := dcObj.Folders(ctx)
	if err != nil {
		return nil, nil, err
	}
	inv := &inventory{
		datacenter: simulator.Map.Get(dcObj.Reference()).(*simulator.Datacenter),
		presented:  make(map[types.ManagedObjectReference][]types.ManagedObjectReference),
	}

	opaque, err := addOpaqueNetwork(inv, folders.NetworkFolder.Reference(), spec)
	if err != nil {
		return nil, nil, err
	}

	if err := os.MkdirAll(spec.datastoreRoot, 0o755); err != nil {
		return nil, nil, err
	}
	for ci, name := range spec.clusters {
		clusterObj, err := folders.HostFolder.CreateCluster(ctx, name, types.ClusterConfigSpecEx{})
		if err != nil {
			return nil, nil, err
		}
		cluster := simulator.Map.Get(clusterObj.Reference()).(*simulator.ClusterComputeResource)
		configureCluster(cluster)
		inv.clusters = append(inv.clusters, cluster)

		var hosts []*simulator.HostSystem
		for hi := 0; hi < spec.hostsPerCluster; hi++ {
			hostName := fmt.Sprintf("sp-esx-%d-%d", ci+1, hi+1)
			task, err := clusterObj.AddHost(ctx, types.HostConnectSpec{HostName: hostName, UserName: "root", Force: true}, true, nil, nil)
			if err != nil {
				return nil, nil, err
			}
			info, err := task.WaitForResult(ctx, nil)
			if err != nil {
				return nil, nil, err
			}
			host := simulator.Map.Get(info.Result.(types.ManagedObjectReference)).(*simulator.HostSystem)
			configureHost(host, ci, hi, spec, opaque)
			sizeHost(host)
			hosts = append(hosts, host)
		}
		summarizeCluster(cluster, hosts)
		// The cluster reaches the tenant network through its hosts.
		cluster.Network = appendRef(cluster.Network, opaque.Self)

		dsName := fmt.Sprintf("sp-vmfs-%d", ci+1)
		ds, err := createVmfsDatastore(inv, dsName, filepath.Join(spec.datastoreRoot, dsName))
		if err != nil {
			return nil, nil, err
		}
		for _, host := range hosts {
			mountDatastore(ds, host)
			inv.presented[ds.Self] = append(inv.presented[ds.Self], host.Self)
		}
		refreshDatastore(ds)
	}
	if spec.sharedDatastore != "" {
		if err := addSharedDatastore(inv, spec); err != nil {
			return nil, nil, err
		}
	}
	return model, inv, nil
}

// addSharedDatastore adds a VMFS datastore mounted on every host of every
// cluster (storage the clusters share). It reports itself nearly full
// (sharedFreeSpace): nova places disks on the datastore with the most free
// space, so each cluster keeps using its own datastore whatever the file
// system behind them does (other work on the machine moves its free space
// by tens of gigabytes), while every nova-compute can still place, and
// cache images, on the shared one.
func addSharedDatastore(inv *inventory, spec *inventorySpec) error {
	name := spec.sharedDatastore
	ds, err := createVmfsDatastore(inv, name, filepath.Join(spec.datastoreRoot, name))
	if err != nil {
		return err
	}
	for _, cluster := range inv.clusters {
		for _, ref := range cluster.Host {
			host := simulator.Map.Get(ref).(*simulator.HostSystem)
			mountDatastore(ds, host)
			inv.presented[ds.Self] = append(inv.presented[ds.Self], host.Self)
		}
	}
	refreshDatastore(ds)
	ds.Summary.FreeSpace = sharedFreeSpace
	ds.Info.GetDatastoreInfo().FreeSpace = sharedFreeSpace
	return nil
}

// sharedFreeSpace is what the shared datastore reports free: 1 GiB.
const sharedFreeSpace = 1 << 30

// appendRef returns refs plus ref in a new slice: the simulator shares
// backing arrays between objects (a host's network list is a slice of its
// cluster's, which is a slice of its datacenter's), so appending in place
// could overwrite another object's list.
func appendRef(refs []types.ManagedObjectReference, ref types.ManagedObjectReference) []types.ManagedObjectReference {
	out := make([]types.ManagedObjectReference, 0, len(refs)+1)
	out = append(out, refs...)
	for _, r := range refs {
		if r == ref {
			return out
		}
	}
	return append(out, ref)
}

// removeRef returns refs without ref, in a new slice (see appendRef).
func removeRef(refs []types.ManagedObjectReference, ref types.ManagedObjectReference) []types.ManagedObjectReference {
	out := make([]types.ManagedObjectReference, 0, len(refs))
	for _, r := range refs {
		if r != ref {
			out = append(out, r)
		}
	}
	return out
}

func addOpaqueNetwork(inv *inventory, networkFolder types.ManagedObjectReference, spec *inventorySpec) (*mo.OpaqueNetwork, error) {
	folder := simulator.Map.Get(networkFolder).(*simulator.Folder)
	var summary types.OpaqueNetworkSummary
	summary.Name = spec.opaqueNetwork
	summary.OpaqueNetworkId = spec.opaqueNetworkID
	summary.OpaqueNetworkType = "nsx.LogicalSwitch"
	if err := folder.AddOpaqueNetwork(summary); err != nil {
		return nil, err
	}
	net, ok := simulator.Map.FindByName(spec.opaqueNetwork, folder.ChildEntity).(*mo.OpaqueNetwork)
	if !ok {
		return nil, fmt.Errorf("opaque network %s not created", spec.opaqueNetwork)
	}
	// The simulator's folder bookkeeping adds Network but not OpaqueNetwork
	// children to the datacenter's network list; a vCenter lists both.
	inv.datacenter.Network = appendRef(inv.datacenter.Network, net.Self)
	return net, nil
}

// configureCluster sets what architecture.md requires of a cluster that
// nova-compute fronts: DRS enabled and fully automated (vCenter places and
// balances VMs), HA on.
func configureCluster(cluster *simulator.ClusterComputeResource) {
	drs := types.ClusterDrsConfigInfo{
		Enabled:                   types.NewBool(true),
		EnableVmBehaviorOverrides: types.NewBool(true),
		DefaultVmBehavior:         types.DrsBehaviorFullyAutomated,
		VmotionRate:               3,
	}
	das := types.ClusterDasConfigInfo{
		Enabled:                 types.NewBool(true),
		HostMonitoring:          string(types.ClusterDasConfigInfoServiceStateEnabled),
		VmMonitoring:            string(types.ClusterDasConfigInfoVmMonitoringStateVmMonitoringDisabled),
		FailoverLevel:           1,
		AdmissionControlEnabled: types.NewBool(true),
	}
	cfg := cluster.ConfigurationEx.(*types.ClusterConfigInfoEx)
	cfg.DrsConfig = drs
	cfg.DasConfig = das
	// The deprecated "configuration" property says the same (older clients
	// read it).
	cluster.Configuration.DrsConfig = drs
	cluster.Configuration.DasConfig = das
}

func vnicFor(base types.HostVirtualNic, prefix string) types.HostVirtualNic {
	nic := base
	nic.Key = prefix + base.Key
	nic.Port = ""
	return nic
}

// configureHost gives a host distinct addresses, a vMotion vmknic selected
// for vMotion (the simulator's hosts report vMotion off and no vmknic for
// it), and the NSX opaque network.
func configureHost(host *simulator.HostSystem, ci, hi int, spec *inventorySpec, opaque *mo.OpaqueNetwork) {
	// Loopback addresses: the inventory is data, nothing connects to them.
	mgmtIP := fmt.Sprintf("127.1.%d.%d", ci+1, hi+1)
	vmotionIP := fmt.Sprintf("127.2.%d.%d", ci+1, hi+1)
	mac := fmt.Sprintf("00:50:56:6%d:%02x:%02x", ci%10, hi+1, 0x10)

	network := host.Config.Network
	vmk0 := network.Vnic[0]
	vmk0.Spec.Ip = &types.HostIpConfig{IpAddress: mgmtIP, SubnetMask: "255.255.0.0"}
	vmk0.Spec.Mac = fmt.Sprintf("00:50:56:6%d:%02x:%02x", ci%10, hi+1, 0x00)
	vmk1 := types.HostVirtualNic{
		Device:    "vmk1",
		Key:       "key-vim.host.VirtualNic-vmk1",
		Portgroup: "vMotion",
		Spec: types.HostVirtualNicSpec{
			Ip:                  &types.HostIpConfig{IpAddress: vmotionIP, SubnetMask: "255.255.0.0"},
			Mac:                 mac,
			Portgroup:           "vMotion",
			Mtu:                 9000,
			TsoEnabled:          types.NewBool(true),
			NetStackInstanceKey: "defaultTcpipStack",
		},
		Port: "key-vim.host.PortGroup.Port-vmk1",
	}
	network.Vnic = []types.HostVirtualNic{vmk0, vmk1}

	if len(network.Portgroup) > 0 {
		pg := types.HostPortGroup{
			Key:     "key-vim.host.PortGroup-vMotion",
			Vswitch: network.Portgroup[0].Vswitch,
			Spec: types.HostPortGroupSpec{
				Name:        "vMotion",
				VswitchName: network.Portgroup[0].Spec.VswitchName,
				Policy:      network.Portgroup[0].Spec.Policy,
			},
			ComputedPolicy: network.Portgroup[0].ComputedPolicy,
		}
		network.Portgroup = append(append([]types.HostPortGroup{}, network.Portgroup...), pg)
	}

	// NSX-T: the host is a transport node with the N-VDS and sees the
	// tenant logical switch as an opaque network.
	network.OpaqueSwitch = []types.HostOpaqueSwitch{{
		Key:    "50 1d 3f 2a 5c 6e 7b 8c-9d 0e 1f 2a 3b 4c 5d 6e",
		Name:   "nsxvswitch",
		Status: "up",
	}}
	network.OpaqueNetwork = []types.HostOpaqueNetworkInfo{{
		OpaqueNetworkId:   spec.opaqueNetworkID,
		OpaqueNetworkName: spec.opaqueNetwork,
		OpaqueNetworkType: "nsx.LogicalSwitch",
	}}
	host.Network = appendRef(host.Network, opaque.Self)
	opaque.Host = appendRef(opaque.Host, host.Self)

	selected := "VMotionConfig.vmotion." + vmk1.Key
	host.Config.Vmotion = &types.HostVMotionInfo{
		NetConfig: &types.HostVMotionNetConfig{
			CandidateVnic: []types.HostVirtualNic{
				vnicFor(vmk0, "VMotionConfig.vmotion."),
				vnicFor(vmk1, "VMotionConfig.vmotion."),
			},
			SelectedVnic: selected,
		},
		IpConfig: vmk1.Spec.Ip,
	}
	if info := host.Config.VirtualNicManagerInfo; info != nil {
		for i := range info.NetConfig {
			nc := &info.NetConfig[i]
			switch nc.NicType {
			case string(types.HostVirtualNicManagerNicTypeVmotion):
				nc.CandidateVnic = []types.HostVirtualNic{vnicFor(vmk0, "vmotion."), vnicFor(vmk1, "vmotion.")}
				nc.SelectedVnic = []string{"vmotion." + vmk1.Key}
			case string(types.HostVirtualNicManagerNicTypeManagement):
				nc.CandidateVnic = []types.HostVirtualNic{vnicFor(vmk0, "management."), vnicFor(vmk1, "management.")}
				nc.SelectedVnic = []string{"management." + vmk0.Key}
			default:
				// The template's candidates describe a single-vmknic
				// host; keep the management vmknic only.
				nc.CandidateVnic = []types.HostVirtualNic{vnicFor(vmk0, nc.NicType+".")}
			}
		}
	}
	host.Summary.Config.VmotionEnabled = true
	host.Summary.ManagementServerIp = "127.0.0.1"
	host.Capability = &types.HostCapability{
		RecursiveResourcePoolsSupported:         true,
		CpuMemoryResourceConfigurationSupported: true,
		RebootSupported:                         true,
		ShutdownSupported:                       true,
		VmotionSupported:                        true,
		StandbySupported:                        true,
		MaxSupportedVcpus:                       768,
		MaxRegisteredVMs:                        4096,
		SanSupported:                            true,
		NfsSupported:                            true,
		IscsiSupported:                          true,
		VlanTaggingSupported:                    true,
		NicTeamingSupported:                     true,
		HighGuestMemSupported:                   true,
		MaintenanceModeSupported:                true,
		SuspendedRelocateSupported:              true,
		PerVmSwapFiles:                          true,
		LocalSwapDatastoreSupported:             true,
		UnsharedSwapVMotionSupported:            true,
	}
}

// The simulator's hosts are 2-CPU, 4 GB VMs (ESXi nested in Workstation);
// give them the size of a modest rack server, so that the cluster nova
// reports as one hypervisor has the capacity of three real hosts.
const (
	hostCPUPackages = 2
	hostCPUCores    = 16
	hostCPUThreads  = 32
	hostCPUMhz      = 2600
	hostMemoryBytes = 256 << 30
)

func sizeHost(host *simulator.HostSystem) {
	hw := host.Summary.Hardware
	hw.Vendor = "Dell Inc."
	hw.Model = "PowerEdge R640"
	hw.CpuModel = "Intel(R) Xeon(R) Gold 6142 CPU @ 2.60GHz"
	hw.CpuMhz = hostCPUMhz
	hw.NumCpuPkgs = hostCPUPackages
	hw.NumCpuCores = hostCPUCores
	hw.NumCpuThreads = hostCPUThreads
	hw.MemorySize = hostMemoryBytes
	host.Hardware.CpuInfo.NumCpuPackages = hostCPUPackages
	host.Hardware.CpuInfo.NumCpuCores = hostCPUCores
	host.Hardware.CpuInfo.NumCpuThreads = hostCPUThreads
	host.Hardware.CpuInfo.Hz = hostCPUMhz * 1000 * 1000
	host.Hardware.MemorySize = hostMemoryBytes
	host.Summary.QuickStats.OverallCpuUsage = 1200
	host.Summary.QuickStats.OverallMemoryUsage = 8 << 10 // MB in use by the hypervisor
	host.Summary.OverallStatus = types.ManagedEntityStatusGreen
}

// summarizeCluster recomputes the cluster's totals as a vCenter reports
// them (the simulator adds one core's MHz per host).
func summarizeCluster(cluster *simulator.ClusterComputeResource, hosts []*simulator.HostSystem) {
	s := cluster.Summary.GetComputeResourceSummary()
	*s = types.ComputeResourceSummary{OverallStatus: types.ManagedEntityStatusGreen}
	for _, h := range hosts {
		hw := h.Summary.Hardware
		s.TotalCpu += hw.CpuMhz * int32(hw.NumCpuCores)
		s.TotalMemory += hw.MemorySize
		s.NumCpuCores += hw.NumCpuCores
		s.NumCpuThreads += hw.NumCpuThreads
		s.NumHosts++
		s.NumEffectiveHosts++
	}
	// Effective resources leave out what the hypervisors use themselves;
	// effectiveMemory is in MB where totalMemory is in bytes.
	s.EffectiveCpu = s.TotalCpu * 9 / 10
	s.EffectiveMemory = s.TotalMemory * 9 / 10 >> 20
}

// vmfsUUID makes the VMFS volume UUID (the /vmfs/volumes/<uuid> name) of a
// datastore from its name, so that it is the same on every start.
func vmfsUUID(name string) string {
	h := sha256.Sum256([]byte("stackproof-vmfs:" + name))
	return fmt.Sprintf("%x-%x-%x-%x", h[0:4], h[4:8], h[8:10], h[10:16])
}

// createVmfsDatastore adds a VMFS datastore backed by dir to the
// datacenter. The simulator can only make local datastores of type OTHER,
// one object per host; a SAN datastore is one object mounted on many
// hosts, with multipleHostAccess set.
func createVmfsDatastore(inv *inventory, name, dir string) (*simulator.Datastore, error) {
	// The inventory is rebuilt on every start: files of VMs the new
	// inventory does not have would only confuse nova's image cache.
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	uuid := vmfsUUID(name)
	ds := &simulator.Datastore{}
	ds.Name = name
	simulator.Map.NewEntity(ds)
	ds.Info = &types.VmfsDatastoreInfo{
		DatastoreInfo: types.DatastoreInfo{
			Name:                   name,
			Url:                    dir, // the simulator keeps files under Url
			MaxVirtualDiskCapacity: 68169720922112,
			ContainerId:            uuid,
		},
		MaxPhysicalRDMFileSize: 70368744177664,
		MaxVirtualRDMFileSize:  68169720922112,
		Vmfs: &types.HostVmfsVolume{
			HostFileSystemVolume: types.HostFileSystemVolume{Type: "VMFS", Name: name},
			BlockSizeMb:          1,
			BlockSize:            1024,
			UnmapGranularity:     1024,
			UnmapPriority:        "low",
			MaxBlocks:            63963136,
			MajorVersion:         6,
			Version:              "6.82",
			Uuid:                 uuid,
			Extent: []types.HostScsiDiskPartition{{
				DiskName:  "naa.6000c29" + uuid[:8] + uuid[9:17] + "0000000000000",
				Partition: 1,
			}},
			Ssd:   types.NewBool(true),
			Local: types.NewBool(false),
		},
	}
	ds.Summary = types.DatastoreSummary{
		Datastore: &ds.Self,
		Name:      name,
		// What a vCenter shows; the simulator itself only uses info.url.
		Url:                "ds:///vmfs/volumes/" + uuid + "/",
		Type:               string(types.HostFileSystemVolumeFileSystemTypeVMFS),
		Accessible:         true,
		MultipleHostAccess: types.NewBool(true),
		MaintenanceMode:    string(types.DatastoreSummaryMaintenanceModeStateNormal),
	}
	ds.Capability = types.DatastoreCapability{
		DirectoryHierarchySupported:      true,
		RawDiskMappingsSupported:         true,
		PerFileThinProvisioningSupported: true,
		StorageIORMSupported:             types.NewBool(true),
		NativeSnapshotSupported:          types.NewBool(false),
		TopLevelDirectoryCreateSupported: types.NewBool(true),
		SeSparseSupported:                types.NewBool(true),
		VmfsSparseSupported:              types.NewBool(true),
		VsanSparseSupported:              types.NewBool(false),
	}

	browser := &simulator.HostDatastoreBrowser{}
	browser.Datastore = []types.ManagedObjectReference{ds.Self}
	ds.Browser = simulator.Map.Put(browser).Reference()

	dc := inv.datacenter
	folder := simulator.Map.Get(dc.DatastoreFolder).(*simulator.Folder)
	folder.ChildEntity = appendRef(folder.ChildEntity, ds.Self)
	simulator.Map.PutEntity(folder, ds)
	dc.Datastore = appendRef(dc.Datastore, ds.Self)
	inv.datastores = append(inv.datastores, ds)
	return ds, nil
}

// mountDatastore mounts ds read-write on host and lists it where a vCenter
// does: the datastore's host mounts, the host's and its datastore system's
// datastores, the cluster's datastores.
func mountDatastore(ds *simulator.Datastore, host *simulator.HostSystem) {
	mount := types.HostMountInfo{
		Path:       "/vmfs/volumes/" + ds.Info.(*types.VmfsDatastoreInfo).Vmfs.Uuid,
		AccessMode: string(types.HostMountModeReadWrite),
		Mounted:    types.NewBool(true),
		Accessible: types.NewBool(true),
	}
	found := false
	for i := range ds.Host {
		if ds.Host[i].Key == host.Self {
			ds.Host[i].MountInfo = mount
			found = true
		}
	}
	if !found {
		ds.Host = append(ds.Host, types.DatastoreHostMount{Key: host.Self, MountInfo: mount})
	}
	host.Datastore = appendRef(host.Datastore, ds.Self)
	if dss, ok := simulator.Map.Get(*host.ConfigManager.DatastoreSystem).(*simulator.HostDatastoreSystem); ok {
		dss.Datastore = appendRef(dss.Datastore, ds.Self)
	}
	if cluster, ok := simulator.Map.Get(*host.Parent).(*simulator.ClusterComputeResource); ok {
		cluster.Datastore = appendRef(cluster.Datastore, ds.Self)
	}
	updateMultipleHostAccess(ds)
}

// updateMultipleHostAccess sets summary.multipleHostAccess as a vCenter
// does: true when more than one host has the datastore configured.
func updateMultipleHostAccess(ds *simulator.Datastore) {
	ds.Summary.MultipleHostAccess = types.NewBool(len(ds.Host) > 1)
}

func refreshDatastore(ds *simulator.Datastore) {
	_ = ds.RefreshDatastore(&types.RefreshDatastore{This: ds.Self})
	if info, ok := ds.Info.(*types.VmfsDatastoreInfo); ok {
		info.Vmfs.Capacity = ds.Summary.Capacity
	}
}
