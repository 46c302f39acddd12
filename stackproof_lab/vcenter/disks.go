package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The simulator keeps a virtual disk as two empty files (name.vmdk and
// name-flat.vmdk) and copies, moves and deletes both. Nova works with real
// VMDK files: it uploads a monolithicSparse image and asks vCenter to copy
// it into a preallocated disk (a text descriptor plus a flat extent), then
// copies and extends that disk for each server. The methods below keep
// descriptors and extents as a vCenter would, with extents as sparse files
// so that a 1 GB disk costs no disk space on the lab machine.

const sectorSize = 512

// flatName is the extent of a descriptor: disk.vmdk -> disk-flat.vmdk.
func flatName(descriptor string) string {
	return strings.TrimSuffix(descriptor, ".vmdk") + "-flat.vmdk"
}

// sparseCapacity returns the capacity in bytes of a hosted sparse VMDK
// (the "KDMV" header of monolithicSparse and streamOptimized files).
func sparseCapacity(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var header struct {
		Magic    [4]byte
		Version  uint32
		Flags    uint32
		Capacity uint64 // in sectors
	}
	if err := binary.Read(f, binary.LittleEndian, &header); err != nil || string(header.Magic[:]) != "KDMV" {
		return 0, false
	}
	return int64(header.Capacity) * sectorSize, true
}

// inflateSparse writes the data of a sparse VMDK into a flat extent that
// createDisk made (holes stay holes): hosted monolithicSparse through its
// grain directory, stream-optimized through its markers.
func inflateSparse(src, flat string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	var h sparseHeader
	if err := binary.Read(f, binary.LittleEndian, &h); err != nil {
		return err
	}
	if h.Flags&flagCompressed != 0 {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return readUpload(bufio.NewReaderSize(f, 1<<20), &transfer{file: strings.TrimSuffix(flat, "-flat.vmdk") + ".vmdk"})
	}
	if h.GrainSize == 0 || h.NumGTEsPerGT == 0 || h.GdOffset == 0 || h.GdOffset == gdAtEnd {
		return fmt.Errorf("%s: unsupported sparse header", src)
	}
	out, err := os.OpenFile(flat, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	grainBytes := int64(h.GrainSize) * sectorSize
	grains := (int64(h.Capacity) + int64(h.GrainSize) - 1) / int64(h.GrainSize)
	tables := (grains + int64(h.NumGTEsPerGT) - 1) / int64(h.NumGTEsPerGT)
	directory := make([]uint32, tables)
	if err := binary.Read(io.NewSectionReader(f, int64(h.GdOffset)*sectorSize, tables*4), binary.LittleEndian, directory); err != nil {
		return err
	}
	table := make([]uint32, h.NumGTEsPerGT)
	grain := make([]byte, grainBytes)
	for t, gt := range directory {
		if gt == 0 {
			continue
		}
		if err := binary.Read(io.NewSectionReader(f, int64(gt)*sectorSize, int64(len(table))*4), binary.LittleEndian, table); err != nil {
			return err
		}
		for i, offset := range table {
			index := int64(t)*int64(h.NumGTEsPerGT) + int64(i)
			if offset == 0 || index >= grains {
				continue
			}
			if _, err := f.ReadAt(grain, int64(offset)*sectorSize); err != nil && err != io.EOF {
				return err
			}
			if _, err := out.WriteAt(grain, index*grainBytes); err != nil {
				return err
			}
		}
	}
	return nil
}

type descriptor struct {
	sectors     int64
	thin        bool
	adapterType string
	uuid        string // the disk's UUID as the API shows it (backing.uuid); "" when it has none
}

var extentLine = regexp.MustCompile(`^(RW|RDONLY|NOACCESS)\s+(\d+)\s+\S+\s+"[^"]*"`)
var ddbLine = regexp.MustCompile(`^ddb\.(\w+)\s*=\s*"([^"]*)"`)

// readDescriptor parses a text descriptor with a single flat extent.
func readDescriptor(path string) (descriptor, bool) {
	d := descriptor{adapterType: "lsilogic"}
	data, err := os.ReadFile(path)
	if err != nil || len(data) > 64*1024 || !bytes.Contains(data, []byte("# Disk DescriptorFile")) {
		return d, false
	}
	found := false
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if m := extentLine.FindStringSubmatch(line); m != nil {
			d.sectors, _ = strconv.ParseInt(m[2], 10, 64)
			found = true
		}
		if m := ddbLine.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "thinProvisioned":
				d.thin = m[2] == "1"
			case "adapterType":
				d.adapterType = m[2]
			case "uuid":
				d.uuid = apiDiskUUID(m[2])
			}
		}
	}
	return d, found
}

// adapterTypes maps the API's adapter names to descriptor ones.
var adapterTypes = map[string]string{
	"busLogic":    "buslogic",
	"lsiLogic":    "lsilogic",
	"lsiLogicsas": "lsilogic",
	"ide":         "ide",
	"paraVirtual": "lsilogic",
}

func writeDescriptor(path string, d descriptor) error {
	extra := ""
	if d.thin {
		extra = "ddb.thinProvisioned = \"1\"\n"
	}
	if d.uuid != "" {
		extra += fmt.Sprintf("ddb.uuid = \"%s\"\n", descriptorDiskUUID(d.uuid))
	}
	text := fmt.Sprintf(`# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=fffffffe
parentCID=ffffffff
createType="vmfs"

# Extent description
RW %d VMFS "%s"

# The Disk Data Base
#DDB

ddb.adapterType = "%s"
ddb.geometry.cylinders = "%d"
ddb.geometry.heads = "255"
ddb.geometry.sectors = "63"
%sddb.virtualHWVersion = "14"
`, d.sectors, filepath.Base(flatName(path)), d.adapterType, d.sectors/(255*63), extra)
	return os.WriteFile(path, []byte(text), 0o644)
}

// specOf applies an API disk spec (thin, preallocated, eagerZeroedThick,
// ...; lsiLogic, busLogic, ...) to a descriptor.
func specOf(d descriptor, spec types.BaseVirtualDiskSpec) descriptor {
	if spec == nil {
		return d
	}
	s := spec.GetVirtualDiskSpec()
	if s.DiskType != "" {
		d.thin = s.DiskType == string(types.VirtualDiskTypeThin)
	}
	if a, ok := adapterTypes[s.AdapterType]; ok {
		d.adapterType = a
	}
	return d
}

// copySparse copies src to dst leaving holes where src has zero blocks, so
// that copying an empty 10 GB extent costs nothing.
func copySparse(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := writeSparse(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// createDisk writes a descriptor and an extent of the descriptor's size.
func createDisk(path string, d descriptor) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := writeDescriptor(path, d); err != nil {
		return err
	}
	f, err := os.OpenFile(flatName(path), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := f.Truncate(d.sectors * sectorSize); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

type virtualDiskManager struct {
	*simulator.VirtualDiskManager
}

func diskTask(m *virtualDiskManager, name string, run func() types.BaseMethodFault) types.ManagedObjectReference {
	return simulator.CreateTask(m.VirtualDiskManager, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if fault := run(); fault != nil {
			return nil, fault
		}
		return nil, nil
	}).Run()
}

// CreateVirtualDiskTask writes a real descriptor and an extent of the
// requested capacity (nova creates the descriptor of a flat image this way
// before uploading the extent).
func (m *virtualDiskManager) CreateVirtualDiskTask(ctx *simulator.Context, req *types.CreateVirtualDisk_Task) soap.HasFault {
	task := diskTask(m, "createVirtualDisk", func() types.BaseMethodFault {
		file, fault := resolveDatastorePath(req.Datacenter, req.Name)
		if fault != nil {
			return fault
		}
		if exists(file) {
			return fileFault(req.Name, new(types.FileAlreadyExists))
		}
		d := specOf(descriptor{adapterType: "lsilogic"}, req.Spec)
		if spec, ok := req.Spec.(*types.FileBackedVirtualDiskSpec); ok {
			d.sectors = spec.CapacityKb * 1024 / sectorSize
		}
		if err := createDisk(file, d); err != nil {
			return fileFault(req.Name, new(types.CannotCreateFile))
		}
		return nil
	})
	return &methods.CreateVirtualDisk_TaskBody{Res: &types.CreateVirtualDisk_TaskResponse{Returnval: task}}
}

// CopyVirtualDiskTask copies a disk as vCenter does: a sparse source
// becomes a descriptor plus a flat extent (preallocated unless destSpec
// says otherwise); a flat source is copied with its extent. The simulator
// refused any destSpec, required a destination datacenter (nova passes
// none) and a -flat file (a sparse image has none).
func (m *virtualDiskManager) CopyVirtualDiskTask(ctx *simulator.Context, req *types.CopyVirtualDisk_Task) soap.HasFault {
	task := diskTask(m, "copyVirtualDisk", func() types.BaseMethodFault {
		destDC := req.DestDatacenter
		if destDC == nil {
			destDC = req.SourceDatacenter
		}
		src, fault := resolveDatastorePath(req.SourceDatacenter, req.SourceName)
		if fault != nil {
			return fault
		}
		dst, fault := resolveDatastorePath(destDC, req.DestName)
		if fault != nil {
			return fault
		}
		if !exists(src) {
			return fileFault(req.SourceName, new(types.FileNotFound))
		}
		if exists(dst) && !(req.Force != nil && *req.Force) {
			return fileFault(req.DestName, new(types.FileAlreadyExists))
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fileFault(req.DestName, new(types.CannotCreateFile))
		}
		if capacity, ok := sparseCapacity(src); ok {
			// No destSpec means "preallocated, busLogic" (vSphere API reference).
			d := specOf(descriptor{sectors: capacity / sectorSize, adapterType: "buslogic"}, req.DestSpec)
			if err := createDisk(dst, d); err != nil {
				return fileFault(req.DestName, new(types.CannotCreateFile))
			}
			if err := inflateSparse(src, flatName(dst)); err != nil {
				return fileFault(req.SourceName, new(types.FileFault))
			}
			// (inflating a stream-optimized source rewrites the descriptor)
			if err := writeDescriptor(dst, d); err != nil {
				return fileFault(req.DestName, new(types.CannotCreateFile))
			}
			return nil
		}
		if d, ok := readDescriptor(src); ok {
			if err := writeDescriptor(dst, specOf(d, req.DestSpec)); err != nil {
				return fileFault(req.DestName, new(types.CannotCreateFile))
			}
			if exists(flatName(src)) {
				if err := copySparse(flatName(src), flatName(dst)); err != nil {
					return fileFault(req.DestName, new(types.CannotCreateFile))
				}
			}
			return nil
		}
		// Neither: copy what there is, as the simulator did.
		for _, pair := range [][2]string{{src, dst}, {flatName(src), flatName(dst)}} {
			if exists(pair[0]) {
				if err := copySparse(pair[0], pair[1]); err != nil {
					return fileFault(req.DestName, new(types.CannotCreateFile))
				}
			}
		}
		return nil
	})
	return &methods.CopyVirtualDisk_TaskBody{Res: &types.CopyVirtualDisk_TaskResponse{Returnval: task}}
}

// ExtendVirtualDiskTask (missing in the simulator) grows the descriptor's
// extent and the extent file; nova extends a server's root disk to the
// flavor's root_gb.
func (m *virtualDiskManager) ExtendVirtualDiskTask(ctx *simulator.Context, req *types.ExtendVirtualDisk_Task) soap.HasFault {
	task := diskTask(m, "extendVirtualDisk", func() types.BaseMethodFault {
		file, fault := resolveDatastorePath(req.Datacenter, req.Name)
		if fault != nil {
			return fault
		}
		if !exists(file) {
			return fileFault(req.Name, new(types.FileNotFound))
		}
		d, ok := readDescriptor(file)
		if !ok {
			return nil // an empty placeholder disk of the simulator's own
		}
		sectors := req.NewCapacityKb * 1024 / sectorSize
		if sectors < d.sectors {
			return &types.InvalidArgument{InvalidProperty: "newCapacityKb"}
		}
		d.sectors = sectors
		if err := writeDescriptor(file, d); err != nil {
			return fileFault(req.Name, new(types.CannotCreateFile))
		}
		if exists(flatName(file)) {
			if err := os.Truncate(flatName(file), sectors*sectorSize); err != nil {
				return fileFault(req.Name, new(types.CannotCreateFile))
			}
		}
		return nil
	})
	return &methods.ExtendVirtualDisk_TaskBody{Res: &types.ExtendVirtualDisk_TaskResponse{Returnval: task}}
}

// DeleteVirtualDiskTask deletes the descriptor and its extent when there is
// one; the simulator failed on a disk without a -flat file.
func (m *virtualDiskManager) DeleteVirtualDiskTask(ctx *simulator.Context, req *types.DeleteVirtualDisk_Task) soap.HasFault {
	task := diskTask(m, "deleteVirtualDisk", func() types.BaseMethodFault {
		file, fault := resolveDatastorePath(req.Datacenter, req.Name)
		if fault != nil {
			return fault
		}
		if !exists(file) {
			return fileFault(req.Name, new(types.FileNotFound))
		}
		_ = os.Remove(flatName(file))
		if err := os.Remove(file); err != nil {
			return fileFault(req.Name, new(types.CannotDeleteFile))
		}
		return nil
	})
	return &methods.DeleteVirtualDisk_TaskBody{Res: &types.DeleteVirtualDisk_TaskResponse{Returnval: task}}
}

// MoveVirtualDiskTask moves a descriptor and its extent (if any); nova
// moves stream-optimized images into its cache this way.
func (m *virtualDiskManager) MoveVirtualDiskTask(ctx *simulator.Context, req *types.MoveVirtualDisk_Task) soap.HasFault {
	task := diskTask(m, "moveVirtualDisk", func() types.BaseMethodFault {
		destDC := req.DestDatacenter
		if destDC == nil {
			destDC = req.SourceDatacenter
		}
		src, fault := resolveDatastorePath(req.SourceDatacenter, req.SourceName)
		if fault != nil {
			return fault
		}
		dst, fault := resolveDatastorePath(destDC, req.DestName)
		if fault != nil {
			return fault
		}
		if !exists(src) {
			return fileFault(req.SourceName, new(types.FileNotFound))
		}
		if exists(dst) && !(req.Force != nil && *req.Force) {
			return fileFault(req.DestName, new(types.FileAlreadyExists))
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fileFault(req.DestName, new(types.CannotCreateFile))
		}
		if d, ok := readDescriptor(src); ok && exists(flatName(src)) {
			if err := os.Rename(flatName(src), flatName(dst)); err != nil {
				return fileFault(req.DestName, new(types.CannotCreateFile))
			}
			// The extent's name is in the descriptor.
			if err := writeDescriptor(dst, d); err != nil {
				return fileFault(req.DestName, new(types.CannotCreateFile))
			}
			_ = os.Remove(src)
			return nil
		}
		if err := os.Rename(src, dst); err != nil {
			return fileFault(req.DestName, new(types.CannotCreateFile))
		}
		return nil
	})
	return &methods.MoveVirtualDisk_TaskBody{Res: &types.MoveVirtualDisk_TaskResponse{Returnval: task}}
}
