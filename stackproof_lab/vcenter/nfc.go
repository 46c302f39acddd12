package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Disk transfers through NFC leases, as nova does them: a snapshot is
// exported with VirtualMachine.ExportVm (missing in the simulator) as a
// stream-optimized VMDK, and a stream-optimized Glance image is imported
// with ResourcePool.ImportVApp, whose upload the simulator threw away
// (the imported disk stayed an empty placeholder). Here the upload becomes
// a real descriptor and flat extent, and the export streams the disk's
// extent, so an image's bytes survive snapshot and re-import.

const (
	exportPrefix = "/nfc-export/"
	importPrefix = "/nfc-import/"
	grainSectors = 128 // 64 KiB grains, as VMware writes them
	gtEntries    = 512
)

// transfer is one disk of a lease: the local descriptor it reads or writes.
type transfer struct {
	lease    types.ManagedObjectReference
	file     string   // descriptor path
	capacity int64    // bytes (export)
	extents  []string // export: the flat extents of the disk's backing chain, the disk's own first
	thin     bool     // import: the disk the import spec asked for is thin
}

var (
	transfers sync.Map // "<lease>/<name>" -> *transfer
	// imports counts the uploads in progress per lease: completing the
	// lease waits for them. oslo.vmware completes the lease and closes its
	// socket without reading the upload's response; the disk must be
	// written by then (and the unread TLS records would make the kernel
	// reset the connection, losing the tail of the upload still buffered).
	imports sync.Map // lease moref value -> *sync.WaitGroup
	// thumbprint is the server certificate's SHA-1 fingerprint, which NFC
	// device URLs carry (oslo.vmware pins the connection to it).
	thumbprint string
)

func setThumbprint(config *tls.Config) {
	if config == nil || len(config.Certificates) == 0 {
		return
	}
	sum := sha1.Sum(config.Certificates[0].Certificate[0])
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	thumbprint = strings.Join(parts, ":")
}

// serveNFC adds the export and import handlers to the service's mux.
func serveNFC(service *simulator.Service) {
	if service.ServeMux == nil {
		service.ServeMux = http.NewServeMux()
	}
	service.ServeMux.HandleFunc(exportPrefix, func(w http.ResponseWriter, r *http.Request) {
		t, ok := lookupTransfer(r.URL.Path, exportPrefix)
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		write := writeStreamOptimized
		if exportFormat() == exportFlat {
			write = writeFlat
		}
		if err := write(w, t); err != nil {
			log.Printf("nfc export %s: %v", t.file, err)
		}
	})
	service.ServeMux.HandleFunc(importPrefix, func(w http.ResponseWriter, r *http.Request) {
		t, ok := lookupTransfer(r.URL.Path, importPrefix)
		if !ok || (r.Method != http.MethodPut && r.Method != http.MethodPost) {
			http.NotFound(w, r)
			return
		}
		inFlight := importsOf(t.lease)
		inFlight.Add(1)
		defer inFlight.Done()
		if err := readUpload(bufio.NewReaderSize(r.Body, 1<<20), t); err != nil {
			log.Printf("nfc import %s: %v", t.file, err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

func lookupTransfer(urlPath, prefix string) (*transfer, bool) {
	key := strings.TrimPrefix(urlPath, prefix)
	v, ok := transfers.Load(key)
	if !ok {
		return nil, false
	}
	return v.(*transfer), true
}

func forgetLease(lease types.ManagedObjectReference) {
	transfers.Range(func(k, v interface{}) bool {
		if v.(*transfer).lease == lease {
			transfers.Delete(k)
		}
		return true
	})
}

// diskInfo is a VM's virtual disk: its descriptor file and capacity.
type diskInfo struct {
	dsPath   string
	capacity int64
	backing  types.BaseVirtualDeviceFileBackingInfo
}

func disksOf(vm *simulator.VirtualMachine) []diskInfo {
	var out []diskInfo
	if vm.Config == nil {
		return nil
	}
	for _, d := range vm.Config.Hardware.Device {
		disk, ok := d.(*types.VirtualDisk)
		if !ok {
			continue
		}
		backing, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo)
		if !ok {
			continue
		}
		capacity := disk.CapacityInBytes
		if capacity == 0 {
			capacity = disk.CapacityInKB * 1024
		}
		out = append(out, diskInfo{backing.GetVirtualDeviceFileBackingInfo().FileName, capacity, backing})
	}
	return out
}

// ExportVm (missing in the simulator) offers the VM's disks for download
// as stream-optimized VMDKs; nova uploads a server snapshot this way.
func (vm *virtualMachine) ExportVm(ctx *simulator.Context, req *types.ExportVm) soap.HasFault {
	body := &methods.ExportVmBody{}
	if vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
		body.Fault_ = simulator.Fault("", &types.InvalidPowerState{
			RequestedState: types.VirtualMachinePowerStatePoweredOff,
			ExistingState:  vm.Runtime.PowerState,
		})
		return body
	}
	lease := simulator.NewHttpNfcLease(ctx, vm.Self)
	lease.Info.Lease = lease.Self
	for i, disk := range disksOf(vm.VirtualMachine) {
		file, fault := resolveDatastorePath(nil, disk.dsPath)
		if fault != nil {
			continue
		}
		name := fmt.Sprintf("disk-%d.vmdk", i)
		transfers.Store(lease.Self.Value+"/"+name, &transfer{
			lease: lease.Self, file: file, capacity: disk.capacity, extents: sourceExtents(disk.backing)})
		lease.Info.DeviceUrl = append(lease.Info.DeviceUrl, types.HttpNfcLeaseDeviceUrl{
			Key:           fmt.Sprintf("/%s/VirtualLsiLogicController0:0:%d", vm.Self.Value, i),
			ImportKey:     fmt.Sprintf("/%s/VirtualLsiLogicController0:0:%d", vm.Name, i),
			Url:           "https://*" + exportPrefix + lease.Self.Value + "/" + name,
			SslThumbprint: thumbprint,
			Disk:          types.NewBool(true),
			TargetId:      name,
		})
		lease.Info.TotalDiskCapacityInKB += disk.capacity / 1024
	}
	body.Res = &types.ExportVmResponse{Returnval: lease.Self}
	return body
}

type resourcePool struct {
	*simulator.ResourcePool
}

// ImportVApp lets the simulator create the VM and its lease, then points
// the lease's disk URLs at our upload handler, which writes the disks.
func (p *resourcePool) ImportVApp(ctx *simulator.Context, req *types.ImportVApp) soap.HasFault {
	res := p.ResourcePool.ImportVApp(ctx, req)
	body, ok := res.(*methods.ImportVAppBody)
	if !ok || body.Res == nil {
		return res
	}
	lease, ok := ctx.Session.Get(body.Res.Returnval).(*simulator.HttpNfcLease)
	if !ok {
		return res
	}
	vm, ok := simulator.Map.Get(lease.Info.Entity).(*simulator.VirtualMachine)
	if !ok {
		return res
	}
	files := map[string]string{}
	thin := map[string]bool{}
	for _, disk := range disksOf(vm) {
		if file, fault := resolveDatastorePath(nil, disk.dsPath); fault == nil {
			files[path.Base(file)] = file
			// The disk is made as the import spec says (nova asks for thin).
			if flat, ok := disk.backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				thin[path.Base(file)] = isTrue(flat.ThinProvisioned)
			}
		}
	}
	for i := range lease.Info.DeviceUrl {
		u := &lease.Info.DeviceUrl[i]
		name := path.Base(u.Url)
		file, ok := files[name]
		if !ok || !isTrue(u.Disk) {
			continue
		}
		transfers.Store(lease.Self.Value+"/"+name, &transfer{lease: lease.Self, file: file, thin: thin[name]})
		u.Url = "https://*" + importPrefix + lease.Self.Value + "/" + name
		u.SslThumbprint = thumbprint
	}
	return res
}

// httpNfcLease forgets a lease's transfers when it ends.
type httpNfcLease struct {
	*simulator.HttpNfcLease
}

// importWait bounds how long completing a lease waits for its uploads.
const importWait = 120 * time.Second

func importsOf(lease types.ManagedObjectReference) *sync.WaitGroup {
	wg, _ := imports.LoadOrStore(lease.Value, &sync.WaitGroup{})
	return wg.(*sync.WaitGroup)
}

func (l *httpNfcLease) HttpNfcLeaseComplete(ctx *simulator.Context, req *types.HttpNfcLeaseComplete) soap.HasFault {
	done := make(chan struct{})
	go func() { importsOf(req.This).Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(importWait):
		log.Printf("nfc lease %s completed with an upload still in progress after %s", req.This.Value, importWait)
	}
	imports.Delete(req.This.Value)
	forgetLease(req.This)
	return l.HttpNfcLease.HttpNfcLeaseComplete(ctx, req)
}

func (l *httpNfcLease) HttpNfcLeaseAbort(ctx *simulator.Context, req *types.HttpNfcLeaseAbort) soap.HasFault {
	forgetLease(req.This)
	return l.HttpNfcLease.HttpNfcLeaseAbort(ctx, req)
}

// ---------------------------------------------------------------------------
// Stream-optimized VMDK (VMware's "Virtual Disk Format 1.1", compressed
// sparse extent with markers): a header, an embedded descriptor, deflated
// grains each behind a marker, grain tables, a grain directory, a footer
// (the header again, now with the directory's offset), an end marker.

type sparseHeader struct {
	Magic              [4]byte
	Version            uint32
	Flags              uint32
	Capacity           uint64
	GrainSize          uint64
	DescriptorOffset   uint64
	DescriptorSize     uint64
	NumGTEsPerGT       uint32
	RgdOffset          uint64
	GdOffset           uint64
	OverHead           uint64
	UncleanShutdown    uint8
	SingleEndLineChar  byte
	NonEndLineChar     byte
	DoubleEndLineChar1 byte
	DoubleEndLineChar2 byte
	CompressAlgorithm  uint16
	Pad                [433]byte
}

const (
	flagNewline    = 1 << 0
	flagCompressed = 1 << 16
	flagMarkers    = 1 << 17
	markerEOS      = 0
	markerGT       = 1
	markerGD       = 2
	markerFooter   = 3
	gdAtEnd        = ^uint64(0)
)

type sectorWriter struct {
	w   io.Writer
	pos uint64 // bytes written
	err error
}

func (s *sectorWriter) write(b []byte) {
	if s.err != nil {
		return
	}
	var n int
	n, s.err = s.w.Write(b)
	s.pos += uint64(n)
}

// pad fills up to the next sector boundary.
func (s *sectorWriter) pad() {
	if r := s.pos % sectorSize; r != 0 {
		s.write(make([]byte, sectorSize-r))
	}
}

func (s *sectorWriter) sector() uint64 { return s.pos / sectorSize }

func (s *sectorWriter) marker(val uint64, kind uint32) {
	m := make([]byte, sectorSize)
	binary.LittleEndian.PutUint64(m[0:], val)
	binary.LittleEndian.PutUint32(m[8:], 0)
	binary.LittleEndian.PutUint32(m[12:], kind)
	s.write(m)
}

func (s *sectorWriter) header(h *sparseHeader) {
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.LittleEndian, h)
	s.write(buf.Bytes())
}

// sourceExtents lists the flat extents along a disk's backing chain: the
// disk's own, then its parent's (a linked clone or a snapshot delta), and
// so on. A child holds only what was written to it, which for the lab's
// VMs (they never run) is nothing: the data is in the parents.
func sourceExtents(backing types.BaseVirtualDeviceFileBackingInfo) []string {
	var extents []string
	for i := 0; backing != nil && i < 32; i++ {
		file, fault := resolveDatastorePath(nil, backing.GetVirtualDeviceFileBackingInfo().FileName)
		if fault == nil {
			if _, ok := readDescriptor(file); ok && exists(flatName(file)) {
				extents = append(extents, flatName(file))
			}
		}
		flat, ok := backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if !ok || flat.Parent == nil {
			break
		}
		backing = flat.Parent
	}
	return extents
}

// chain reads a disk through its backing chain: a range a child leaves
// zero is read from its parent, as a delta disk reads through.
type chain []*os.File

func openChain(extents []string) (chain, error) {
	var c chain
	for _, extent := range extents {
		f, err := os.Open(extent)
		if err != nil {
			c.Close()
			return nil, err
		}
		c = append(c, f)
	}
	return c, nil
}

func (c chain) Close() {
	for _, f := range c {
		f.Close()
	}
}

// hasData says whether f holds data in [off, off+n): extents are sparse
// files, and a 1 GiB root disk is mostly holes that need no reading.
func hasData(f *os.File, off, n int64) bool {
	next, err := f.Seek(off, seekData)
	if err != nil {
		return false // ENXIO: only a hole from off to the end
	}
	return next < off+n
}

// seekData is lseek's SEEK_DATA (Linux, and what the lab runs on).
const seekData = 3

func (c chain) ReadAt(p []byte, off int64) (int, error) {
	for i := range p {
		p[i] = 0
	}
	for _, f := range c {
		if !hasData(f, off, int64(len(p))) {
			continue
		}
		n, err := f.ReadAt(p, off)
		if err != nil && err != io.EOF {
			return 0, err
		}
		for i := n; i < len(p); i++ {
			p[i] = 0
		}
		if bytes.Count(p, []byte{0}) != len(p) {
			break
		}
	}
	return len(p), nil
}

func writeStreamOptimized(w io.Writer, t *transfer) error {
	sectors := uint64(t.capacity) / sectorSize
	if d, ok := readDescriptor(t.file); ok && d.sectors > 0 {
		sectors = uint64(d.sectors)
	}
	var src io.ReaderAt
	if c, err := openChain(t.extents); err == nil && len(c) > 0 {
		defer c.Close()
		src = c
	}
	desc := fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"+
		"createType=\"streamOptimized\"\n\n# Extent description\nRW %d SPARSE \"disk.vmdk\"\n\n"+
		"# The Disk Data Base\n#DDB\n\nddb.adapterType = \"lsilogic\"\nddb.virtualHWVersion = \"14\"\n", sectors)
	descSectors := (uint64(len(desc)) + sectorSize - 1) / sectorSize
	header := sparseHeader{
		Magic:              [4]byte{'K', 'D', 'M', 'V'},
		Version:            3,
		Flags:              flagNewline | flagCompressed | flagMarkers,
		Capacity:           sectors,
		GrainSize:          grainSectors,
		DescriptorOffset:   1,
		DescriptorSize:     descSectors,
		NumGTEsPerGT:       gtEntries,
		GdOffset:           gdAtEnd,
		OverHead:           1 + descSectors,
		SingleEndLineChar:  '\n',
		NonEndLineChar:     ' ',
		DoubleEndLineChar1: '\r',
		DoubleEndLineChar2: '\n',
		CompressAlgorithm:  1,
	}
	out := &sectorWriter{w: w}
	out.header(&header)
	out.write([]byte(desc))
	out.pad()

	grains := (sectors + grainSectors - 1) / grainSectors
	table := make([]uint32, ((grains+gtEntries-1)/gtEntries)*gtEntries)
	grain := make([]byte, grainSectors*sectorSize)
	var packed bytes.Buffer
	for g := uint64(0); src != nil && g < grains && out.err == nil; g++ {
		n, err := src.ReadAt(grain, int64(g*grainSectors*sectorSize))
		if err != nil && err != io.EOF {
			return err
		}
		if n == 0 || bytes.Count(grain[:n], []byte{0}) == n {
			continue // holes are left out of the stream
		}
		for i := n; i < len(grain); i++ {
			grain[i] = 0
		}
		packed.Reset()
		zw := zlib.NewWriter(&packed)
		_, _ = zw.Write(grain)
		_ = zw.Close()
		table[g] = uint32(out.sector())
		m := make([]byte, 12)
		binary.LittleEndian.PutUint64(m[0:], g*grainSectors)
		binary.LittleEndian.PutUint32(m[8:], uint32(packed.Len()))
		out.write(m)
		out.write(packed.Bytes())
		out.pad()
	}
	// Grain tables, then the directory that points at them.
	gtSectors := uint64(gtEntries * 4 / sectorSize)
	directory := make([]uint32, len(table)/gtEntries)
	for i := range directory {
		out.marker(gtSectors, markerGT)
		directory[i] = uint32(out.sector())
		var buf bytes.Buffer
		_ = binary.Write(&buf, binary.LittleEndian, table[i*gtEntries:(i+1)*gtEntries])
		out.write(buf.Bytes())
	}
	gdBytes := uint64(len(directory) * 4)
	out.marker((gdBytes+sectorSize-1)/sectorSize, markerGD)
	gdOffset := out.sector()
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.LittleEndian, directory)
	out.write(buf.Bytes())
	out.pad()
	out.marker(1, markerFooter)
	header.GdOffset = gdOffset
	out.header(&header)
	out.marker(0, markerEOS)
	return out.err
}

// How ExportVm hands out disks. vCenter exports stream-optimized VMDKs;
// the lab's vpxd advanced setting exportOption (set through the vSphere
// API, OptionManager.UpdateOptions) makes it export the raw flat extent
// instead: a vCenter whose exports are not stream-optimized, the fault
// SP-VMDK-007 exists to catch (nova uploads the bytes as a
// streamOptimized snapshot whatever they are).
const (
	exportOption          = "config.stackproof.lab.exportDiskFormat"
	exportStreamOptimized = "streamOptimized"
	exportFlat            = "flat"
)

// exportFormat reads exportOption from the vCenter's settings.
func exportFormat() string {
	content := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance).Content
	if content.Setting == nil {
		return exportStreamOptimized
	}
	m, ok := simulator.Map.Get(*content.Setting).(*simulator.OptionManager)
	if !ok {
		return exportStreamOptimized
	}
	for _, option := range m.Setting {
		if value := option.GetOptionValue(); value.Key == exportOption {
			if text, ok := value.Value.(string); ok && text == exportFlat {
				return exportFlat
			}
		}
	}
	return exportStreamOptimized
}

// writeFlat streams the disk's extent as it is (zeros where it has holes).
func writeFlat(w io.Writer, t *transfer) error {
	size := t.capacity
	if d, ok := readDescriptor(t.file); ok && d.sectors > 0 {
		size = d.sectors * sectorSize
	}
	c, err := openChain(t.extents)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = io.Copy(w, io.NewSectionReader(c, 0, size))
	return err
}

// writeSparse copies r into f, seeking over zero blocks; returns the bytes read.
func writeSparse(f *os.File, r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var size int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if bytes.Count(buf[:n], []byte{0}) == n {
				if _, serr := f.Seek(int64(n), io.SeekCurrent); serr != nil {
					return size, serr
				}
			} else if _, werr := f.Write(buf[:n]); werr != nil {
				return size, werr
			}
			size += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return size, f.Truncate(size)
		}
		if err != nil {
			return size, err
		}
	}
}

// readUpload writes an uploaded disk to t.file as a descriptor and a flat
// extent: a stream-optimized VMDK is inflated grain by grain; anything
// else is taken as the raw extent.
func readUpload(r *bufio.Reader, t *transfer) error {
	flat, err := os.OpenFile(flatName(t.file), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer flat.Close()
	magic, _ := r.Peek(4)
	if string(magic) != "KDMV" {
		// A raw extent: data is written, runs of zeros stay holes (what a
		// disk never written reads as), so a 1 GiB extent of zeros costs
		// no disk time on the lab machine.
		n, err := writeSparse(flat, r)
		if err != nil {
			return err
		}
		return writeDescriptor(t.file, descriptor{sectors: (n + sectorSize - 1) / sectorSize, adapterType: "lsilogic", thin: t.thin})
	}
	var header sparseHeader
	if err := binary.Read(r, binary.LittleEndian, &header); err != nil {
		return err
	}
	if header.Flags&flagCompressed == 0 || header.Flags&flagMarkers == 0 {
		return fmt.Errorf("not a stream-optimized VMDK (flags %#x)", header.Flags)
	}
	if _, err := r.Discard(int((header.OverHead - 1) * sectorSize)); err != nil {
		return err
	}
	if err := flat.Truncate(int64(header.Capacity * sectorSize)); err != nil {
		return err
	}
	grain := make([]byte, header.GrainSize*sectorSize)
	head := make([]byte, 12)
	for {
		if n, err := io.ReadFull(r, head); err != nil {
			// qemu-img's streamOptimized files keep their grain directory
			// in the header's overhead and end after the last grain, with
			// no footer and no end-of-stream marker.
			if n == 0 && err == io.EOF {
				return writeDescriptor(t.file, descriptor{sectors: int64(header.Capacity), adapterType: "lsilogic", thin: t.thin})
			}
			return fmt.Errorf("truncated stream: %v", err)
		}
		lba := binary.LittleEndian.Uint64(head[0:])
		size := binary.LittleEndian.Uint32(head[8:])
		if size > 0 { // a grain
			data := make([]byte, size)
			if _, err := io.ReadFull(r, data); err != nil {
				return err
			}
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				return err
			}
			n, err := io.ReadFull(zr, grain)
			if err != nil && err != io.ErrUnexpectedEOF {
				return err
			}
			if _, err := flat.WriteAt(grain[:n], int64(lba*sectorSize)); err != nil {
				return err
			}
			// Each grain ends on a sector boundary.
			if tail := (12 + int(size)) % sectorSize; tail != 0 {
				if _, err := r.Discard(sectorSize - tail); err != nil {
					return err
				}
			}
			continue
		}
		// A marker: the rest of its sector, then val sectors of metadata.
		kind := make([]byte, sectorSize-12)
		if _, err := io.ReadFull(r, kind); err != nil {
			return err
		}
		switch binary.LittleEndian.Uint32(kind[0:]) {
		case markerEOS:
			return writeDescriptor(t.file, descriptor{sectors: int64(header.Capacity), adapterType: "lsilogic", thin: t.thin})
		default:
			if _, err := r.Discard(int(lba * sectorSize)); err != nil {
				return err
			}
		}
	}
}
