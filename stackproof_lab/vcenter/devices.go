package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// What vCenter does with a VM's devices when it creates or reconfigures
// the VM, and the simulator does not:
//   - a SCSI controller added without a unit number takes unit 7;
//   - a disk created with the VM (fileOperation create) is a real
//     descriptor and extent of its capacity, with a disk UUID;
//   - a disk's UUID lives in its descriptor (ddb.uuid): set through the API
//     on one VM, it is what another VM attaching the same file reads back,
//     with the capacity.
//   - an extraConfig key set again replaces its value, and set to "" is
//     removed (the simulator appended every setting, so the VM listed the
//     key once per attach and detach: nova keeps volume-<id> = disk UUID
//     there while a volume is attached and blanks it on detach).
// Cinder's VMDK driver creates a volume as the disk of a powered-off
// "backing" VM and sets that disk's UUID to the volume's id; nova attaches
// the file to the instance's VM and, to detach it, finds the device whose
// backing.uuid is that id. Without these, the attached disk had no UUID and
// no capacity, and nova could not attach (no controller unit) nor detach.

// scsiControllerUnit is the unit number a SCSI controller takes on its own
// bus: vSphere reserves unit 7 for it.
const scsiControllerUnit = 7

// fillControllerDefaults gives each SCSI controller added by changes its
// unit number. nova's vm_util._find_allocated_slots reads it on every SCSI
// controller and failed with an AttributeError on the simulator's.
func fillControllerDefaults(changes []types.BaseVirtualDeviceConfigSpec) {
	for _, change := range changes {
		spec := change.GetVirtualDeviceConfigSpec()
		if spec.Operation != types.VirtualDeviceConfigSpecOperationAdd {
			continue
		}
		if controller, ok := spec.Device.(types.BaseVirtualSCSIController); ok {
			if c := controller.GetVirtualSCSIController(); c.ScsiCtlrUnitNumber == 0 {
				c.ScsiCtlrUnitNumber = scsiControllerUnit
			}
		}
	}
}

// newDiskUUID makes a disk UUID the way ESXi does (6000C29 + random).
func newDiskUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := "6000c29" + hex.EncodeToString(b)[7:]
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// descriptorDiskUUID writes an API disk UUID in a descriptor's ddb.uuid
// notation: 16 hex bytes, "60 00 c2 9a 01 23 45 67-89 ab cd ef 01 23 45 67".
func descriptorDiskUUID(uuid string) string {
	h := strings.ReplaceAll(uuid, "-", "")
	if len(h) != 32 {
		return uuid
	}
	pairs := make([]string, 16)
	for i := range pairs {
		pairs[i] = h[2*i : 2*i+2]
	}
	return strings.Join(pairs[:8], " ") + "-" + strings.Join(pairs[8:], " ")
}

// apiDiskUUID reads ddb.uuid back in the API's notation.
func apiDiskUUID(value string) string {
	h := strings.NewReplacer(" ", "", "-", "").Replace(value)
	if len(h) != 32 {
		return value
	}
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// syncDisks makes the disk files follow the changes a finished
// CreateVM/ReconfigVM made, and the VM's disk devices follow their files.
func syncDisks(changes []types.BaseVirtualDeviceConfigSpec) {
	for _, change := range changes {
		spec := change.GetVirtualDeviceConfigSpec()
		disk, ok := spec.Device.(*types.VirtualDisk)
		if !ok || spec.Operation == types.VirtualDeviceConfigSpecOperationRemove {
			continue
		}
		backing, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if !ok {
			continue
		}
		file, fault := resolveDatastorePath(nil, backing.FileName)
		if fault != nil {
			continue
		}
		if spec.FileOperation == types.VirtualDeviceConfigSpecFileOperationCreate {
			// The simulator made two empty files.
			if backing.Uuid == "" {
				backing.Uuid = newDiskUUID()
			}
			capacity := disk.CapacityInBytes
			if capacity == 0 {
				capacity = disk.CapacityInKB * 1024
			}
			_ = createDisk(file, descriptor{
				sectors: capacity / sectorSize, thin: isTrue(backing.ThinProvisioned),
				adapterType: "lsilogic", uuid: backing.Uuid,
			})
			continue
		}
		d, ok := readDescriptor(file)
		if !ok {
			continue
		}
		if backing.Uuid != "" && backing.Uuid != d.uuid {
			// Set through the API (cinder: the volume's id): kept in the file.
			d.uuid = backing.Uuid
			_ = writeDescriptor(file, d)
		} else if backing.Uuid == "" {
			backing.Uuid = d.uuid
		}
		if disk.CapacityInKB == 0 && disk.CapacityInBytes == 0 {
			disk.CapacityInBytes = d.sectors * sectorSize
			disk.CapacityInKB = disk.CapacityInBytes / 1024
		}
		// An existing file is attached as it is: vSphere reports the
		// disk's own provisioning, whatever the spec claimed (nova asks
		// for the image's disk type on a disk CopyVirtualDisk made).
		backing.ThinProvisioned = types.NewBool(d.thin)
	}
}

// mergeExtraConfig applies vSphere's extraConfig semantics to the keys a
// reconfiguration set: the last value wins, an empty value removes the key.
func mergeExtraConfig(vm *simulator.VirtualMachine, changed []types.BaseOptionValue) {
	touched := map[string]bool{}
	for _, option := range changed {
		touched[option.GetOptionValue().Key] = true
	}
	if len(touched) == 0 {
		return
	}
	last := map[string]int{}
	for i, option := range vm.Config.ExtraConfig {
		last[option.GetOptionValue().Key] = i
	}
	var kept []types.BaseOptionValue
	for i, option := range vm.Config.ExtraConfig {
		value := option.GetOptionValue()
		if touched[value.Key] {
			if last[value.Key] != i {
				continue // an earlier value of a key set again
			}
			if text, ok := value.Value.(string); ok && text == "" {
				continue
			}
		}
		kept = append(kept, option)
	}
	vm.Config.ExtraConfig = kept
}

func taskSucceeded(ref types.ManagedObjectReference) bool {
	task, ok := simulator.Map.Get(ref).(*simulator.Task)
	return ok && task.Info.State == types.TaskInfoStateSuccess
}

// ReconfigVMTask fills in device defaults, reconfigures as the simulator
// does, then syncs disks with their files and settles extraConfig.
func (vm *virtualMachine) ReconfigVMTask(ctx *simulator.Context, req *types.ReconfigVM_Task) soap.HasFault {
	fillControllerDefaults(req.Spec.DeviceChange)
	res := vm.VirtualMachine.ReconfigVMTask(ctx, req)
	if body, ok := res.(*methods.ReconfigVM_TaskBody); ok && body.Res != nil && taskSucceeded(body.Res.Returnval) {
		ctx.WithLock(vm.VirtualMachine, func() {
			syncDisks(req.Spec.DeviceChange)
			mergeExtraConfig(vm.VirtualMachine, req.Spec.ExtraConfig)
		})
	}
	return res
}
