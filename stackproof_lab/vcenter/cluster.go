package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// DRS, vMotion and the storage faults: what the lab's checks and fault
// injection do to a cluster through the real vSphere API.

func isTrue(b *bool) bool { return b != nil && *b }

func clusterOfHost(host *simulator.HostSystem) *simulator.ClusterComputeResource {
	if host.Parent == nil {
		return nil
	}
	c, _ := simulator.Map.Get(*host.Parent).(*simulator.ClusterComputeResource)
	return c
}

// clusterOfPool walks up from a resource pool to its cluster.
func clusterOfPool(ref types.ManagedObjectReference) *simulator.ClusterComputeResource {
	for i := 0; i < 64; i++ {
		obj := simulator.Map.Get(ref)
		if c, ok := obj.(*simulator.ClusterComputeResource); ok {
			return c
		}
		e, ok := obj.(mo.Entity)
		if !ok || e.Entity().Parent == nil {
			return nil
		}
		ref = *e.Entity().Parent
	}
	return nil
}

func drsOf(c *simulator.ClusterComputeResource) *types.ClusterDrsConfigInfo {
	return &c.ConfigurationEx.(*types.ClusterConfigInfoEx).DrsConfig
}

// vmBehavior is the DRS automation level that applies to vm in c: the
// cluster's default or the VM's override.
func vmBehavior(c *simulator.ClusterComputeResource, vm types.ManagedObjectReference) (bool, types.DrsBehavior) {
	drs := drsOf(c)
	enabled, behavior := isTrue(drs.Enabled), drs.DefaultVmBehavior
	if isTrue(drs.EnableVmBehaviorOverrides) {
		for _, o := range c.ConfigurationEx.(*types.ClusterConfigInfoEx).DrsVmConfig {
			if o.Key == vm {
				if o.Enabled != nil && !*o.Enabled {
					return enabled, types.DrsBehaviorManual
				}
				if o.Behavior != "" {
					behavior = o.Behavior
				}
			}
		}
	}
	return enabled, behavior
}

func hostUsable(h *simulator.HostSystem) bool {
	return h.Runtime.ConnectionState == types.HostSystemConnectionStateConnected && !h.Runtime.InMaintenanceMode
}

// mountedOn reports whether ds is mounted and accessible on host.
func mountedOn(ds *simulator.Datastore, host types.ManagedObjectReference) bool {
	for _, m := range ds.Host {
		if m.Key == host {
			return isTrue(m.MountInfo.Mounted) && isTrue(m.MountInfo.Accessible)
		}
	}
	return false
}

// pickHost chooses a host of c for a VM on the given datastores, as DRS
// does for placement and evacuation: connected, not in maintenance,
// seeing every datastore, the least loaded first.
func pickHost(c *simulator.ClusterComputeResource, datastores []*simulator.Datastore, exclude types.ManagedObjectReference) *simulator.HostSystem {
	var best *simulator.HostSystem
	for _, ref := range c.Host {
		if ref == exclude {
			continue
		}
		h, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
		if !ok || !hostUsable(h) {
			continue
		}
		sees := true
		for _, ds := range datastores {
			sees = sees && mountedOn(ds, ref)
		}
		if sees && (best == nil || len(h.Vm) < len(best.Vm)) {
			best = h
		}
	}
	return best
}

func datastoresOf(vm *simulator.VirtualMachine) []*simulator.Datastore {
	var out []*simulator.Datastore
	for _, ref := range vm.Datastore {
		if ds, ok := simulator.Map.Get(ref).(*simulator.Datastore); ok {
			out = append(out, ds)
		}
	}
	return out
}

// vmotionFault says why vm cannot be moved from one host to another, or nil.
func vmotionFault(vm *simulator.VirtualMachine, from, to *simulator.HostSystem) types.BaseMethodFault {
	if to.Runtime.ConnectionState != types.HostSystemConnectionStateConnected {
		return &types.HostNotConnected{}
	}
	if to.Runtime.InMaintenanceMode {
		return &types.InvalidState{}
	}
	for _, ds := range datastoresOf(vm) {
		if !mountedOn(ds, to.Self) {
			// vMotion needs storage both hosts see: the fault a vCenter gives.
			return &types.DatastoreNotWritableOnHost{
				InvalidDatastore: types.InvalidDatastore{Datastore: &ds.Self, Name: ds.Name},
				Host:             to.Self,
			}
		}
	}
	if vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn &&
		(!from.Summary.Config.VmotionEnabled || !to.Summary.Config.VmotionEnabled) {
		return &types.VMotionNotConfigured{}
	}
	return nil
}

func postEvent(ctx *simulator.Context, event types.BaseEvent) {
	m := simulator.Map.EventManager()
	ctx.WithLock(m, func() {
		m.PostEvent(ctx, &types.PostEvent{EventToPost: event})
	})
}

// moveVM re-registers vm from one host to another (a vMotion) and posts
// the event a vCenter posts, so a check can see that DRS moved it.
func moveVM(ctx *simulator.Context, vm *simulator.VirtualMachine, from, to *simulator.HostSystem, byDRS bool) {
	ctx.WithLock(from, func() { from.Vm = removeRef(from.Vm, vm.Self) })
	ctx.WithLock(to, func() { to.Vm = appendRef(to.Vm, vm.Self) })
	ctx.WithLock(vm, func() {
		host := to.Self
		simulator.Map.Update(vm, []types.PropertyChange{
			{Name: "runtime.host", Val: &host},
			{Name: "summary.runtime.host", Val: &host},
		})
	})
	migrated := types.VmMigratedEvent{
		VmEvent: types.VmEvent{Event: types.Event{
			Vm:   &types.VmEventArgument{Vm: vm.Self, EntityEventArgument: types.EntityEventArgument{Name: vm.Name}},
			Host: &types.HostEventArgument{Host: to.Self, EntityEventArgument: types.EntityEventArgument{Name: to.Name}},
		}},
		SourceHost: types.HostEventArgument{Host: from.Self, EntityEventArgument: types.EntityEventArgument{Name: from.Name}},
	}
	if c := clusterOfHost(to); c != nil {
		migrated.ComputeResource = &types.ComputeResourceEventArgument{
			ComputeResource: c.Self, EntityEventArgument: types.EntityEventArgument{Name: c.Name}}
	}
	if dc := datacenterOf(to); dc != nil {
		if obj, ok := simulator.Map.Get(*dc).(*simulator.Datacenter); ok {
			migrated.Datacenter = &types.DatacenterEventArgument{
				Datacenter: obj.Self, EntityEventArgument: types.EntityEventArgument{Name: obj.Name}}
		}
	}
	if byDRS {
		postEvent(ctx, &types.DrsVmMigratedEvent{VmMigratedEvent: migrated})
	} else {
		postEvent(ctx, &migrated)
	}
}

// ---------------------------------------------------------------------------
// ClusterComputeResource

type cluster struct {
	*simulator.ClusterComputeResource
}

func validBehavior(b types.DrsBehavior) bool {
	switch b {
	case "", types.DrsBehaviorManual, types.DrsBehaviorPartiallyAutomated, types.DrsBehaviorFullyAutomated:
		return true
	}
	return false
}

// applyConfig merges the DRS and HA parts of spec, which the 0.24.2
// simulator ignores (it applies rules, groups and VM overrides only).
func (c *cluster) applyConfig(spec *types.ClusterConfigSpecEx) types.BaseMethodFault {
	ex := c.ConfigurationEx.(*types.ClusterConfigInfoEx)
	if d := spec.DrsConfig; d != nil {
		if !validBehavior(d.DefaultVmBehavior) {
			return &types.InvalidArgument{InvalidProperty: "drsConfig.defaultVmBehavior"}
		}
		cfg := &ex.DrsConfig
		if d.Enabled != nil {
			cfg.Enabled = d.Enabled
		}
		if d.EnableVmBehaviorOverrides != nil {
			cfg.EnableVmBehaviorOverrides = d.EnableVmBehaviorOverrides
		}
		if d.DefaultVmBehavior != "" {
			cfg.DefaultVmBehavior = d.DefaultVmBehavior
		}
		if d.VmotionRate != 0 {
			cfg.VmotionRate = d.VmotionRate
		}
		if d.Option != nil {
			cfg.Option = d.Option
		}
	}
	if d := spec.DasConfig; d != nil {
		cfg := &ex.DasConfig
		if d.Enabled != nil {
			cfg.Enabled = d.Enabled
		}
		if d.HostMonitoring != "" {
			cfg.HostMonitoring = d.HostMonitoring
		}
		if d.VmMonitoring != "" {
			cfg.VmMonitoring = d.VmMonitoring
		}
		if d.AdmissionControlEnabled != nil {
			cfg.AdmissionControlEnabled = d.AdmissionControlEnabled
		}
		if d.FailoverLevel != 0 {
			cfg.FailoverLevel = d.FailoverLevel
		}
	}
	c.Configuration.DrsConfig = ex.DrsConfig
	c.Configuration.DasConfig = ex.DasConfig
	return nil
}

// ReconfigureComputeResourceTask honours drsConfig and dasConfig, so fault
// injection can set DRS to partiallyAutomated (or off) the way an operator
// would, and a check reads it back from configurationEx.
func (c *cluster) ReconfigureComputeResourceTask(ctx *simulator.Context, req *types.ReconfigureComputeResource_Task) soap.HasFault {
	if spec, ok := req.Spec.(*types.ClusterConfigSpecEx); ok {
		if fault := c.applyConfig(spec); fault != nil {
			return &methods.ReconfigureComputeResource_TaskBody{Res: &types.ReconfigureComputeResource_TaskResponse{
				Returnval: failedTask(c.ClusterComputeResource, "reconfigureCluster", fault),
			}}
		}
	}
	return c.ClusterComputeResource.ReconfigureComputeResourceTask(req)
}

// ---------------------------------------------------------------------------
// HostSystem

type hostSystem struct {
	*simulator.HostSystem
}

// evacuate moves the host's VMs away as DRS does when a host enters
// maintenance mode: only in a fully automated cluster (otherwise a vCenter
// waits for an operator; the lab fails the task at once instead of hanging).
func (h *hostSystem) evacuate(ctx *simulator.Context, poweredOff bool) types.BaseMethodFault {
	c := clusterOfHost(h.HostSystem)
	for _, ref := range append([]types.ManagedObjectReference(nil), h.Vm...) {
		vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		on := vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
		if !on && !poweredOff {
			continue // powered-off VMs may stay registered on a host in maintenance
		}
		if c == nil {
			return &types.InvalidState{}
		}
		if enabled, behavior := vmBehavior(c, ref); !enabled || behavior != types.DrsBehaviorFullyAutomated {
			return &types.InvalidState{}
		}
		target := pickHost(c, datastoresOf(vm), h.Self)
		if target == nil {
			return &types.InsufficientResourcesFault{}
		}
		if fault := vmotionFault(vm, h.HostSystem, target); fault != nil {
			return fault
		}
		moveVM(ctx, vm, h.HostSystem, target, true)
	}
	return nil
}

func (h *hostSystem) EnterMaintenanceModeTask(ctx *simulator.Context, req *types.EnterMaintenanceMode_Task) soap.HasFault {
	task := simulator.CreateTask(h.HostSystem, "enterMaintenanceMode", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if h.Runtime.InMaintenanceMode {
			return nil, nil
		}
		if fault := h.evacuate(ctx, isTrue(req.EvacuatePoweredOffVms)); fault != nil {
			return nil, fault
		}
		simulator.Map.Update(h.HostSystem, []types.PropertyChange{{Name: "runtime.inMaintenanceMode", Val: true}})
		return nil, nil
	})
	return &methods.EnterMaintenanceMode_TaskBody{Res: &types.EnterMaintenanceMode_TaskResponse{Returnval: task.Run()}}
}

func (h *hostSystem) setConnection(ctx *simulator.Context, state types.HostSystemConnectionState) {
	simulator.Map.Update(h.HostSystem, []types.PropertyChange{{Name: "runtime.connectionState", Val: state}})
	vmState := types.VirtualMachineConnectionStateConnected
	if state != types.HostSystemConnectionStateConnected {
		vmState = types.VirtualMachineConnectionStateDisconnected
	}
	for _, ref := range h.Vm {
		if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok {
			ctx.WithLock(vm, func() {
				simulator.Map.Update(vm, []types.PropertyChange{
					{Name: "runtime.connectionState", Val: vmState},
					{Name: "summary.runtime.connectionState", Val: vmState},
				})
			})
		}
	}
}

// DisconnectHostTask and ReconnectHostTask (missing in the simulator) let
// fault injection take a host out of its cluster's capacity: nova counts
// only connected hosts, AGG-11 wants all of them connected.
func (h *hostSystem) DisconnectHostTask(ctx *simulator.Context, req *types.DisconnectHost_Task) soap.HasFault {
	task := simulator.CreateTask(h.HostSystem, "disconnectHost", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		h.setConnection(ctx, types.HostSystemConnectionStateDisconnected)
		return nil, nil
	})
	return &methods.DisconnectHost_TaskBody{Res: &types.DisconnectHost_TaskResponse{Returnval: task.Run()}}
}

func (h *hostSystem) ReconnectHostTask(ctx *simulator.Context, req *types.ReconnectHost_Task) soap.HasFault {
	task := simulator.CreateTask(h.HostSystem, "reconnectHost", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		h.setConnection(ctx, types.HostSystemConnectionStateConnected)
		return nil, nil
	})
	return &methods.ReconnectHost_TaskBody{Res: &types.ReconnectHost_TaskResponse{Returnval: task.Run()}}
}

// ---------------------------------------------------------------------------
// VirtualMachine: vMotion within a cluster. The simulator has no
// MigrateVM_Task and its RelocateVM_Task moved no VM between hosts (it
// removed the VM from neither host's list and added it to none).

type virtualMachine struct {
	*simulator.VirtualMachine
}

func (vm *virtualMachine) currentHost() *simulator.HostSystem {
	if vm.Runtime.Host == nil {
		return nil
	}
	h, _ := simulator.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem)
	return h
}

// migrate moves the VM to host (or, with no host, to one DRS picks in the
// current cluster).
func (vm *virtualMachine) migrate(ctx *simulator.Context, host *types.ManagedObjectReference) types.BaseMethodFault {
	from := vm.currentHost()
	if from == nil {
		return &types.InvalidState{}
	}
	var to *simulator.HostSystem
	if host != nil {
		var ok bool
		if to, ok = simulator.Map.Get(*host).(*simulator.HostSystem); !ok {
			return &types.ManagedObjectNotFound{Obj: *host}
		}
	} else if c := clusterOfHost(from); c != nil {
		if to = pickHost(c, datastoresOf(vm.VirtualMachine), from.Self); to == nil {
			return &types.InsufficientResourcesFault{}
		}
	} else {
		return &types.InvalidArgument{InvalidProperty: "host"}
	}
	if to.Self == from.Self {
		return nil
	}
	if fault := vmotionFault(vm.VirtualMachine, from, to); fault != nil {
		return fault
	}
	moveVM(ctx, vm.VirtualMachine, from, to, false)
	return nil
}

func (vm *virtualMachine) MigrateVMTask(ctx *simulator.Context, req *types.MigrateVM_Task) soap.HasFault {
	task := simulator.CreateTask(vm.VirtualMachine, "migrateVm", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, vm.migrate(ctx, req.Host)
	})
	return &methods.MigrateVM_TaskBody{Res: &types.MigrateVM_TaskResponse{Returnval: task.Run()}}
}

func (vm *virtualMachine) RelocateVMTask(ctx *simulator.Context, req *types.RelocateVM_Task) soap.HasFault {
	spec := req.Spec
	if spec.Host == nil && (spec.Datastore != nil || spec.Pool != nil) && spec.Folder == nil &&
		len(spec.Disk) == 0 && len(spec.DeviceChange) == 0 {
		task := simulator.CreateTask(vm.VirtualMachine, "relocateVm", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
			return nil, vm.relocate(ctx, spec.Datastore, spec.Pool)
		})
		return &methods.RelocateVM_TaskBody{Res: &types.RelocateVM_TaskResponse{Returnval: task.Run()}}
	}
	if spec.Host == nil {
		return vm.VirtualMachine.RelocateVMTask(ctx, req)
	}
	if spec.Datastore == nil && spec.Folder == nil && len(spec.Disk) == 0 && len(spec.DeviceChange) == 0 {
		task := simulator.CreateTask(vm.VirtualMachine, "relocateVm", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
			return nil, vm.migrate(ctx, spec.Host)
		})
		return &methods.RelocateVM_TaskBody{Res: &types.RelocateVM_TaskResponse{Returnval: task.Run()}}
	}
	// A storage or folder move too: move the VM between hosts here and
	// leave the rest to the simulator.
	if fault := vm.migrate(ctx, spec.Host); fault != nil {
		return &methods.RelocateVM_TaskBody{Res: &types.RelocateVM_TaskResponse{
			Returnval: failedTask(vm.VirtualMachine, "relocateVm", fault),
		}}
	}
	rest := *req
	rest.Spec.Host = nil
	rest.Spec.Pool = nil
	return vm.VirtualMachine.RelocateVMTask(ctx, &rest)
}

// relocate moves a VM to another datastore and/or resource pool, as
// vCenter's RelocateVM_Task does: the VM's directory (configuration and
// disks) moves to the datastore, and the VM to a host of the pool's cluster
// that sees it (DRS's choice). nova does this to a cinder volume's backing
// VM before booting from it ("move the volume to the datastore of the
// instance"); the simulator only rewrote the VM's datastore list and pool,
// moved no file and no host, so the instance then referred to a disk on a
// datastore its host does not mount (and the simulator panicked).
func (vm *virtualMachine) relocate(ctx *simulator.Context, dsRef, poolRef *types.ManagedObjectReference) types.BaseMethodFault {
	from := vm.currentHost()
	if from == nil {
		return &types.InvalidState{}
	}
	target := datastoresOf(vm.VirtualMachine)
	if dsRef != nil {
		ds, ok := simulator.Map.Get(*dsRef).(*simulator.Datastore)
		if !ok {
			return &types.ManagedObjectNotFound{Obj: *dsRef}
		}
		target = []*simulator.Datastore{ds}
	}
	to := from
	if poolRef != nil {
		c := clusterOfPool(*poolRef)
		if c == nil {
			return &types.InvalidArgument{InvalidProperty: "spec.pool"}
		}
		if clusterOfHost(from) == nil || clusterOfHost(from).Self != c.Self || !seesAll(from, target) {
			if to = pickHost(c, target, types.ManagedObjectReference{}); to == nil {
				return &types.NoCompatibleHost{}
			}
		}
	} else if !seesAll(from, target) {
		return &types.DatastoreNotWritableOnHost{}
	}
	if dsRef != nil {
		if fault := vm.moveFiles(ctx, target[0]); fault != nil {
			return fault
		}
	}
	if poolRef != nil && (vm.ResourcePool == nil || *vm.ResourcePool != *poolRef) {
		if vm.ResourcePool != nil {
			leavePool(ctx, vm.Self, *vm.ResourcePool)
		}
		if rp, ok := simulator.Map.Get(*poolRef).(*simulator.ResourcePool); ok {
			ctx.WithLock(rp, func() { rp.Vm = appendRef(rp.Vm, vm.Self) })
		}
		pool := *poolRef
		ctx.WithLock(vm.VirtualMachine, func() {
			simulator.Map.Update(vm.VirtualMachine, []types.PropertyChange{{Name: "resourcePool", Val: &pool}})
		})
	}
	if to.Self != from.Self {
		moveVM(ctx, vm.VirtualMachine, from, to, false)
	}
	return nil
}

func seesAll(host *simulator.HostSystem, datastores []*simulator.Datastore) bool {
	for _, ds := range datastores {
		if !mountedOn(ds, host.Self) {
			return false
		}
	}
	return true
}

// moveFiles moves the VM's directory to datastore ds and points the VM's
// files and disks there.
func (vm *virtualMachine) moveFiles(ctx *simulator.Context, ds *simulator.Datastore) types.BaseMethodFault {
	vmx := vm.Config.Files.VmPathName
	old := datastoreNameOf(vmx)
	if old == "" || old == ds.Name {
		return nil
	}
	dir := strings.TrimSpace(vmx[strings.Index(vmx, "]")+1:])
	if i := strings.LastIndex(dir, "/"); i >= 0 {
		dir = dir[:i]
	} else {
		dir = ""
	}
	oldPrefix, newPrefix := fmt.Sprintf("[%s] %s", old, dir), fmt.Sprintf("[%s] %s", ds.Name, dir)
	src, fault := resolveDatastorePath(nil, oldPrefix)
	if fault != nil {
		return fault
	}
	dst, fault := resolveDatastorePath(nil, newPrefix)
	if fault != nil {
		return fault
	}
	if dir == "" || exists(dst) {
		return fileFault(newPrefix, new(types.FileAlreadyExists))
	}
	if err := os.Rename(src, dst); err != nil {
		return fileFault(oldPrefix, new(types.CannotAccessFile))
	}
	oldDS := datastoreByName(nil, old)
	moved := func(path string) string {
		if strings.HasPrefix(path, oldPrefix+"/") || path == oldPrefix {
			return newPrefix + strings.TrimPrefix(path, oldPrefix)
		}
		// The simulator lists some of a VM's own files without their directory ("[ds] vmware.log").
		if rest := strings.TrimPrefix(path, "["+old+"] "); rest != path && !strings.Contains(rest, "/") {
			return "[" + ds.Name + "] " + rest
		}
		return path
	}
	ctx.WithLock(vm.VirtualMachine, func() {
		files := &vm.Config.Files
		files.VmPathName = moved(files.VmPathName)
		files.LogDirectory, files.SnapshotDirectory = moved(files.LogDirectory), moved(files.SnapshotDirectory)
		files.SuspendDirectory = moved(files.SuspendDirectory)
		vm.Summary.Config.VmPathName = files.VmPathName
		// The file layouts too: the simulator recomputes the VM's storage from them (a later
		// reconfigure or destroy looked up the old datastore on the new host and panicked).
		if layout := vm.Layout; layout != nil {
			for i := range layout.ConfigFile {
				layout.ConfigFile[i] = moved(layout.ConfigFile[i])
			}
			for i := range layout.LogFile {
				layout.LogFile[i] = moved(layout.LogFile[i])
			}
			for i := range layout.Disk {
				for j := range layout.Disk[i].DiskFile {
					layout.Disk[i].DiskFile[j] = moved(layout.Disk[i].DiskFile[j])
				}
			}
			layout.SwapFile = moved(layout.SwapFile)
		}
		if layout := vm.LayoutEx; layout != nil {
			for i := range layout.File {
				layout.File[i].Name = moved(layout.File[i].Name)
			}
		}
		for _, disk := range vmDisks(vm.VirtualMachine) {
			if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok && strings.HasPrefix(b.FileName, oldPrefix) {
				b.FileName = moved(b.FileName)
				ref := ds.Self
				b.Datastore = &ref
			}
		}
		refs := []types.ManagedObjectReference{ds.Self}
		for _, ref := range vm.Datastore {
			if (oldDS == nil || ref != oldDS.Self) && ref != ds.Self {
				refs = append(refs, ref)
			}
		}
		simulator.Map.Update(vm.VirtualMachine, []types.PropertyChange{{Name: "datastore", Val: refs}})
	})
	if oldDS != nil {
		ctx.WithLock(oldDS, func() { oldDS.Vm = removeRef(oldDS.Vm, vm.Self) })
	}
	ctx.WithLock(ds, func() { ds.Vm = appendRef(ds.Vm, vm.Self) })
	return nil
}

// copyDevices deep-copies a device list (through XML, as the simulator
// copies its templates).
func copyDevices(devices []types.BaseVirtualDevice) ([]types.BaseVirtualDevice, error) {
	data, err := xml.Marshal(types.ArrayOfVirtualDevice{VirtualDevice: devices})
	if err != nil {
		return nil, err
	}
	var out types.ArrayOfVirtualDevice
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.TypeFunc = types.TypeFunc()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out.VirtualDevice, nil
}

func vmDisks(vm *simulator.VirtualMachine) []*types.VirtualDisk {
	var disks []*types.VirtualDisk
	for _, d := range vm.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok {
			disks = append(disks, disk)
		}
	}
	return disks
}

// CloneVMTask: the simulator builds the clone from the source's own device
// objects and clears their file names, so after a clone (nova's snapshot
// makes one) the source VM's disks pointed at nothing, or at the clone's
// files. Give it a copy; and make a linked clone's disks children of the
// source's, as a vCenter does, so the clone's data can be found (export).
func (vm *virtualMachine) CloneVMTask(ctx *simulator.Context, req *types.CloneVM_Task) soap.HasFault {
	pool := req.Spec.Location.Pool
	if pool == nil && vm.ResourcePool != nil {
		ref := *vm.ResourcePool
		pool = &ref
	}
	own := vm.Config.Hardware.Device
	copied, err := copyDevices(own)
	if err != nil {
		return vm.VirtualMachine.CloneVMTask(ctx, req)
	}
	// The simulator creates the clone on the source's host whatever the spec says; a clone
	// onto a datastore of another cluster (cinder clones a volume's backing onto the
	// datastore it picked, naming that host) then failed. Clone onto the host asked for.
	ownHost := vm.Runtime.Host
	if at := req.Spec.Location.Host; at != nil {
		ref := *at
		vm.Runtime.Host = &ref
	}
	vm.Config.Hardware.Device = copied
	res := vm.VirtualMachine.CloneVMTask(ctx, req)
	vm.Config.Hardware.Device = own
	vm.Runtime.Host = ownHost

	body, ok := res.(*methods.CloneVM_TaskBody)
	if !ok || body.Res == nil {
		return res
	}
	task, ok := simulator.Map.Get(body.Res.Returnval).(*simulator.Task)
	if !ok {
		return res
	}
	cloneRef, ok := task.Info.Result.(types.ManagedObjectReference)
	if !ok {
		return res
	}
	clone, ok := simulator.Map.Get(cloneRef).(*simulator.VirtualMachine)
	if !ok {
		return res
	}
	if clone.Config.Template && pool != nil {
		// Cloned as a template (nova's snapshot does): the simulator marks
		// it without leaving the pool, see MarkAsTemplate.
		leavePool(ctx, clone.Self, *pool)
	}
	linked := req.Spec.Snapshot != nil ||
		req.Spec.Location.DiskMoveType == string(types.VirtualMachineRelocateDiskMoveOptionsCreateNewChildDiskBacking)
	if !linked {
		ctx.WithLock(clone, func() { copyClonedDisks(vm.VirtualMachine, clone, req.Spec.Location.Disk) })
		return res
	}
	sources := vmDisks(vm.VirtualMachine)
	for i, disk := range vmDisks(clone) {
		child, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if !ok || i >= len(sources) {
			continue
		}
		if parent, ok := sources[i].Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
			p := *parent
			child.Parent = &p
		}
	}
	return res
}

// copyClonedDisks gives a full clone's disks their source's data, as vCenter
// copies them. The simulator made two empty files per disk, so a volume that
// cinder's VMDK driver clones from a temporary backing (image-to-volume from
// a sparse image does) had no descriptor: no capacity and, worse, no disk
// UUID once attached, so nova could boot from it but never detach or delete
// the server. Each copy gets a new disk UUID (cinder then sets the volume's
// own through ReconfigVM) and the disk type the clone's disk locator asks.
func copyClonedDisks(source, clone *simulator.VirtualMachine, locators []types.VirtualMachineRelocateSpecDiskLocator) {
	sources := vmDisks(source)
	for i, disk := range vmDisks(clone) {
		if i >= len(sources) {
			break
		}
		from, okFrom := sources[i].Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		to, okTo := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if !okFrom || !okTo {
			continue
		}
		src, fault := resolveDatastorePath(nil, from.FileName)
		if fault != nil {
			continue
		}
		dst, fault := resolveDatastorePath(nil, to.FileName)
		if fault != nil || src == dst {
			continue
		}
		d, ok := readDescriptor(src)
		if !ok {
			continue
		}
		eager := isTrue(from.EagerlyScrub)
		for _, locator := range locators {
			if locator.DiskId != sources[i].Key {
				continue
			}
			if b, ok := locator.DiskBackingInfo.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				d.thin = isTrue(b.ThinProvisioned)
				eager = isTrue(b.EagerlyScrub)
			}
		}
		d.uuid = newDiskUUID()
		if writeDescriptor(dst, d) != nil {
			continue
		}
		if exists(flatName(src)) && copySparse(flatName(src), flatName(dst)) != nil {
			continue
		}
		thin := d.thin
		to.ThinProvisioned = &thin
		to.EagerlyScrub = &eager
		to.Uuid = d.uuid
		disk.CapacityInBytes = d.sectors * sectorSize
		disk.CapacityInKB = disk.CapacityInBytes / 1024
	}
}

// leavePool removes vm from a resource pool's VM list.
func leavePool(ctx *simulator.Context, vm, pool types.ManagedObjectReference) {
	if rp, ok := simulator.Map.Get(pool).(*simulator.ResourcePool); ok {
		ctx.WithLock(rp, func() { rp.Vm = removeRef(rp.Vm, vm) })
	}
}

// MarkAsTemplate: a template belongs to no resource pool, and the
// simulator cleared the VM's pool without taking the VM off the pool's
// list; once the template was destroyed the pool still listed it, and every
// client walking the inventory (a ContainerView of VMs, nova's traversal)
// met a VM that no longer exists.
func (vm *virtualMachine) MarkAsTemplate(ctx *simulator.Context, req *types.MarkAsTemplate) soap.HasFault {
	var pool *types.ManagedObjectReference
	if vm.ResourcePool != nil {
		ref := *vm.ResourcePool
		pool = &ref
	}
	res := vm.VirtualMachine.MarkAsTemplate(req)
	if res.Fault() == nil && pool != nil {
		leavePool(ctx, vm.Self, *pool)
	}
	return res
}

func (vm *virtualMachine) MarkAsVirtualMachine(ctx *simulator.Context, req *types.MarkAsVirtualMachine) soap.HasFault {
	res := vm.VirtualMachine.MarkAsVirtualMachine(req)
	if res.Fault() == nil {
		if rp, ok := simulator.Map.Get(req.Pool).(*simulator.ResourcePool); ok {
			ctx.WithLock(rp, func() { rp.Vm = appendRef(rp.Vm, vm.Self) })
		}
	}
	return res
}

// ---------------------------------------------------------------------------
// Folder.CreateVM_Task: initial placement as DRS does it. The simulator
// picked a random host of the cluster, even one in maintenance mode,
// disconnected, or without the VM's datastore mounted.

type folder struct {
	*simulator.Folder
}

func datastoreNameOf(dsPath string) string {
	if !strings.HasPrefix(dsPath, "[") {
		return ""
	}
	if end := strings.Index(dsPath, "]"); end > 0 {
		return dsPath[1:end]
	}
	return ""
}

func (f *folder) CreateVMTask(ctx *simulator.Context, req *types.CreateVM_Task) soap.HasFault {
	fillControllerDefaults(req.Config.DeviceChange)
	if req.Host == nil && req.Config.Files != nil {
		if c := clusterOfPool(req.Pool); c != nil {
			var fault types.BaseMethodFault
			var dss []*simulator.Datastore
			if ds := datastoreByName(nil, datastoreNameOf(req.Config.Files.VmPathName)); ds != nil {
				dss = append(dss, ds)
			}
			if !isTrue(drsOf(c).Enabled) {
				// Without DRS a vCenter cannot choose a host in a cluster.
				fault = &types.InvalidArgument{InvalidProperty: "host"}
			} else if host := pickHost(c, dss, types.ManagedObjectReference{}); host == nil {
				fault = &types.NoCompatibleHost{}
			} else {
				ref := host.Self
				req.Host = &ref
			}
			if fault != nil {
				return &methods.CreateVM_TaskBody{Res: &types.CreateVM_TaskResponse{
					Returnval: failedTask(f.Folder, "createVm", fault),
				}}
			}
		}
	}
	res := f.Folder.CreateVMTask(ctx, req)
	// The task has run (simulator tasks are synchronous): give the new VM's
	// disks real files and UUIDs (devices.go).
	if body, ok := res.(*methods.CreateVM_TaskBody); ok && body.Res != nil && taskSucceeded(body.Res.Returnval) {
		task := simulator.Map.Get(body.Res.Returnval).(*simulator.Task)
		if ref, ok := task.Info.Result.(types.ManagedObjectReference); ok {
			if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok {
				ctx.WithLock(vm, func() { syncDisks(req.Config.DeviceChange) })
			}
		}
	}
	return res
}

// ---------------------------------------------------------------------------
// Storage faults: a datastore unmounted from, or removed from, one host of
// a cluster ("unshared datastore"), and the rescan that brings it back.

func datastoreByVmfsUUID(uuid string) *simulator.Datastore {
	for _, ds := range lab.datastores {
		if info, ok := ds.Info.(*types.VmfsDatastoreInfo); ok && info.Vmfs != nil && info.Vmfs.Uuid == uuid {
			return ds
		}
	}
	return nil
}

// updateAccessible: a datastore is accessible while some host can reach it.
func updateAccessible(ds *simulator.Datastore) {
	accessible := false
	for _, m := range ds.Host {
		accessible = accessible || isTrue(m.MountInfo.Accessible)
	}
	ds.Summary.Accessible = accessible
}

// inUseOn reports whether a powered-on VM on host uses ds.
func inUseOn(ds *simulator.Datastore, host *simulator.HostSystem) bool {
	for _, ref := range host.Vm {
		vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
		if !ok || vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
			continue
		}
		for _, d := range vm.Datastore {
			if d == ds.Self {
				return true
			}
		}
	}
	return false
}

type storageSystem struct {
	*simulator.HostStorageSystem
}

func (s *storageSystem) host() *simulator.HostSystem {
	h, _ := simulator.Map.Get(s.Host.Self).(*simulator.HostSystem)
	return h
}

func (s *storageSystem) setMounted(ctx *simulator.Context, uuid string, mounted bool) *soap.Fault {
	ds := datastoreByVmfsUUID(uuid)
	host := s.host()
	if ds == nil || host == nil {
		return simulator.Fault("no VMFS volume "+uuid, &types.NotFound{})
	}
	if !mounted && inUseOn(ds, host) {
		return simulator.Fault("volume in use", &types.ResourceInUse{Type: "Datastore", Name: ds.Name})
	}
	var fault *soap.Fault
	ctx.WithLock(ds, func() {
		for i := range ds.Host {
			if ds.Host[i].Key == host.Self {
				ds.Host[i].MountInfo.Mounted = types.NewBool(mounted)
				ds.Host[i].MountInfo.Accessible = types.NewBool(mounted)
				ds.Host[i].MountInfo.InaccessibleReason = ""
				updateAccessible(ds)
				return
			}
		}
		fault = simulator.Fault("volume not configured on this host", &types.NotFound{})
	})
	return fault
}

// UnmountVmfsVolume leaves the datastore configured on the host but not
// mounted: the host keeps it in its list, its mount shows mounted=false.
func (s *storageSystem) UnmountVmfsVolume(ctx *simulator.Context, req *types.UnmountVmfsVolume) soap.HasFault {
	body := &methods.UnmountVmfsVolumeBody{}
	if body.Fault_ = s.setMounted(ctx, req.VmfsUuid, false); body.Fault_ == nil {
		body.Res = &types.UnmountVmfsVolumeResponse{}
	}
	return body
}

func (s *storageSystem) MountVmfsVolume(ctx *simulator.Context, req *types.MountVmfsVolume) soap.HasFault {
	body := &methods.MountVmfsVolumeBody{}
	if body.Fault_ = s.setMounted(ctx, req.VmfsUuid, true); body.Fault_ == nil {
		body.Res = &types.MountVmfsVolumeResponse{}
	}
	return body
}

// rescan mounts again the shared datastores whose LUN is still presented to
// this host but which were removed from it (RemoveDatastore).
func (s *storageSystem) rescan(ctx *simulator.Context) {
	host := s.host()
	if host == nil {
		return
	}
	for _, ds := range lab.datastores {
		configured := false
		for _, m := range ds.Host {
			configured = configured || m.Key == host.Self
		}
		if configured {
			continue
		}
		for _, ref := range lab.presented[ds.Self] {
			if ref == host.Self {
				ctx.WithLock(ds, func() {
					mountDatastore(ds, host)
					updateAccessible(ds)
				})
			}
		}
	}
}

func (s *storageSystem) RescanVmfs(ctx *simulator.Context, req *types.RescanVmfs) soap.HasFault {
	s.rescan(ctx)
	return &methods.RescanVmfsBody{Res: &types.RescanVmfsResponse{}}
}

func (s *storageSystem) RescanAllHba(ctx *simulator.Context, req *types.RescanAllHba) soap.HasFault {
	s.rescan(ctx)
	return &methods.RescanAllHbaBody{Res: &types.RescanAllHbaResponse{}}
}

type datastoreSystem struct {
	*simulator.HostDatastoreSystem
}

// RemoveDatastore (missing in the simulator) removes a datastore from one
// host: the host no longer lists it, its cluster still does while another
// host mounts it, and multipleHostAccess is recomputed.
func (d *datastoreSystem) RemoveDatastore(ctx *simulator.Context, req *types.RemoveDatastore) soap.HasFault {
	body := &methods.RemoveDatastoreBody{}
	ds, ok := simulator.Map.Get(req.Datastore).(*simulator.Datastore)
	host, hok := simulator.Map.Get(d.Host.Self).(*simulator.HostSystem)
	if !ok || !hok {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	if inUseOn(ds, host) {
		body.Fault_ = simulator.Fault("datastore in use", &types.ResourceInUse{Type: "Datastore", Name: ds.Name})
		return body
	}
	ctx.WithLock(ds, func() {
		var mounts []types.DatastoreHostMount
		for _, m := range ds.Host {
			if m.Key != host.Self {
				mounts = append(mounts, m)
			}
		}
		ds.Host = mounts
		updateMultipleHostAccess(ds)
		updateAccessible(ds)
	})
	ctx.WithLock(host, func() { host.Datastore = removeRef(host.Datastore, ds.Self) })
	d.Datastore = removeRef(d.Datastore, ds.Self)
	if c := clusterOfHost(host); c != nil {
		still := false
		for _, m := range ds.Host {
			for _, h := range c.Host {
				still = still || m.Key == h
			}
		}
		if !still {
			ctx.WithLock(c, func() { c.Datastore = removeRef(c.Datastore, ds.Self) })
		}
	}
	body.Res = &types.RemoveDatastoreResponse{}
	return body
}
