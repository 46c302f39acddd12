package main

import (
	"strings"
	"text/template"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// lab is the inventory the extensions act on (set by installExtensions).
var lab *inventory

// installExtensions adds the vSphere methods nova's VMware driver and the
// lab's fault injection need, and that the 0.24.2 simulator lacks or gets
// wrong. The simulator dispatches a SOAP call by reflection on the object
// registered for the call's moref:
//   - an object the simulator has no type for (ExtensionManager) is
//     replaced by our own type in its registry;
//   - objects that other simulator code type-asserts (*HostSystem,
//     *ClusterComputeResource, ...) cannot be replaced, so our patch adds
//     simulator.Extend, through which dispatch first looks for the method
//     on a wrapper of ours that embeds a pointer to the object.
func installExtensions(inv *inventory) {
	lab = inv
	content := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance).Content
	if ref := content.ExtensionManager; ref != nil {
		em := &extensionManager{}
		em.Self = *ref
		simulator.Map.Put(em)
	}
	repairEventTemplates()
	simulator.Extend = func(obj mo.Reference) interface{} {
		switch o := obj.(type) {
		case *simulator.SearchIndex:
			return &searchIndex{o}
		case *simulator.VirtualDiskManager:
			return &virtualDiskManager{o}
		case *simulator.HostDatastoreBrowser:
			return &datastoreBrowser{o}
		case *simulator.ClusterComputeResource:
			return &cluster{o}
		case *simulator.HostSystem:
			return &hostSystem{o}
		case *simulator.HostStorageSystem:
			return &storageSystem{o}
		case *simulator.HostDatastoreSystem:
			return &datastoreSystem{o}
		case *simulator.Folder:
			return &folder{o}
		case *simulator.VirtualMachine:
			return &virtualMachine{o}
		case *simulator.ResourcePool:
			return &resourcePool{o}
		case *simulator.HttpNfcLease:
			return &httpNfcLease{o}
		}
		return nil
	}
}

// repairEventTemplates fixes event message templates that do not parse.
// The simulator formats each posted event with its description's template
// and panics on a bad one; VmMigratedEvent's has "{{.SourceHost.Name},"
// and so every vMotion would drop the client's connection.
func repairEventTemplates() {
	m := simulator.Map.EventManager()
	for i := range m.Description.EventInfo {
		info := &m.Description.EventInfo[i]
		if info.Key == "VmMigratedEvent" {
			info.FullFormat = "Migration of virtual machine {{.Vm.Name}} from {{.SourceHost.Name}} to {{.Host.Name}} completed"
		}
		if _, err := template.New(info.Key).Parse(info.FullFormat); err != nil {
			info.FullFormat = info.Description
		}
	}
}

// failedTask returns a task that ends in fault, as a vCenter reports an
// argument it rejects once the task has started.
func failedTask(obj mo.Reference, name string, fault types.BaseMethodFault) types.ManagedObjectReference {
	return simulator.CreateTask(obj, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, fault
	}).Run()
}

// ---------------------------------------------------------------------------
// ExtensionManager: nova registers itself as the "org.openstack.compute"
// extension when the driver starts (FindExtension, then RegisterExtension)
// and marks the VMs it creates as managed by it; without these methods the
// driver fails to start.

type extensionManager struct {
	mo.ExtensionManager
}

func (m *extensionManager) find(key string) int {
	for i := range m.ExtensionList {
		if m.ExtensionList[i].Key == key {
			return i
		}
	}
	return -1
}

func (m *extensionManager) FindExtension(req *types.FindExtension) soap.HasFault {
	body := &methods.FindExtensionBody{Res: &types.FindExtensionResponse{}}
	if i := m.find(req.ExtensionKey); i >= 0 {
		ext := m.ExtensionList[i]
		body.Res.Returnval = &ext
	}
	return body
}

func (m *extensionManager) RegisterExtension(req *types.RegisterExtension) soap.HasFault {
	body := &methods.RegisterExtensionBody{}
	if m.find(req.Extension.Key) >= 0 {
		// What a vCenter answers for a key it has; nova treats it as "already registered".
		body.Fault_ = simulator.Fault("extension "+req.Extension.Key+" is already registered",
			&types.InvalidArgument{InvalidProperty: "extension.key"})
		return body
	}
	m.ExtensionList = append(m.ExtensionList, req.Extension)
	body.Res = &types.RegisterExtensionResponse{}
	return body
}

func (m *extensionManager) UpdateExtension(req *types.UpdateExtension) soap.HasFault {
	body := &methods.UpdateExtensionBody{}
	i := m.find(req.Extension.Key)
	if i < 0 {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	m.ExtensionList[i] = req.Extension
	body.Res = &types.UpdateExtensionResponse{}
	return body
}

func (m *extensionManager) UnregisterExtension(req *types.UnregisterExtension) soap.HasFault {
	body := &methods.UnregisterExtensionBody{}
	i := m.find(req.ExtensionKey)
	if i < 0 {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	m.ExtensionList = append(m.ExtensionList[:i:i], m.ExtensionList[i+1:]...)
	body.Res = &types.UnregisterExtensionResponse{}
	return body
}

// ---------------------------------------------------------------------------
// SearchIndex.FindAllByUuid: nova finds the VM of an instance by its
// instance UUID before nearly every operation on an existing server.

type searchIndex struct {
	*simulator.SearchIndex
}

// datacenterOf returns the datacenter an entity is in, or nil.
func datacenterOf(e mo.Entity) *types.ManagedObjectReference {
	for e != nil {
		parent := e.Entity().Parent
		if parent == nil {
			return nil
		}
		if parent.Type == "Datacenter" {
			return parent
		}
		next, ok := simulator.Map.Get(*parent).(mo.Entity)
		if !ok {
			return nil
		}
		e = next
	}
	return nil
}

func (s *searchIndex) FindAllByUuid(req *types.FindAllByUuid) soap.HasFault {
	body := &methods.FindAllByUuidBody{Res: &types.FindAllByUuidResponse{}}
	uuid := strings.ToLower(req.Uuid)
	inDatacenter := func(e mo.Entity) bool {
		if req.Datacenter == nil {
			return true
		}
		dc := datacenterOf(e)
		return dc != nil && *dc == *req.Datacenter
	}
	if req.VmSearch {
		byInstance := req.InstanceUuid != nil && *req.InstanceUuid
		for _, e := range simulator.Map.All("VirtualMachine") {
			vm, ok := e.(*simulator.VirtualMachine)
			if !ok || vm.Config == nil || !inDatacenter(vm) {
				continue
			}
			id := vm.Config.Uuid
			if byInstance {
				id = vm.Config.InstanceUuid
			}
			if strings.ToLower(id) == uuid {
				body.Res.Returnval = append(body.Res.Returnval, vm.Self)
			}
		}
		return body
	}
	for _, e := range simulator.Map.All("HostSystem") {
		host, ok := e.(*simulator.HostSystem)
		if ok && host.Summary.Hardware != nil && strings.ToLower(host.Summary.Hardware.Uuid) == uuid && inDatacenter(host) {
			body.Res.Returnval = append(body.Res.Returnval, host.Self)
		}
	}
	return body
}

// datastoreByName finds a datastore by name, in the given datacenter when
// there is one.
func datastoreByName(dc *types.ManagedObjectReference, name string) *simulator.Datastore {
	for _, e := range simulator.Map.All("Datastore") {
		ds, ok := e.(*simulator.Datastore)
		if !ok || ds.Name != name {
			continue
		}
		if dc != nil {
			if at := datacenterOf(ds); at == nil || *at != *dc {
				continue
			}
		}
		return ds
	}
	return nil
}

// resolveDatastorePath maps "[datastore] path" to the local file behind it.
func resolveDatastorePath(dc *types.ManagedObjectReference, dsPath string) (string, types.BaseMethodFault) {
	end := strings.Index(dsPath, "]")
	if !strings.HasPrefix(dsPath, "[") || end < 0 {
		return "", &types.InvalidDatastorePath{DatastorePath: dsPath}
	}
	name, rel := dsPath[1:end], strings.TrimSpace(dsPath[end+1:])
	// Nothing outside the datastore's directory.
	if strings.Contains("/"+rel+"/", "/../") {
		return "", &types.InvalidDatastorePath{DatastorePath: dsPath}
	}
	ds := datastoreByName(dc, name)
	if ds == nil {
		return "", &types.InvalidDatastore{Name: name}
	}
	return strings.TrimRight(ds.Info.GetDatastoreInfo().Url, "/") + "/" + rel, nil
}

// fileFault sets the file a file fault is about.
func fileFault(name string, fault interface {
	types.BaseFileFault
	types.BaseMethodFault
}) types.BaseMethodFault {
	fault.GetFileFault().File = name
	return fault
}
