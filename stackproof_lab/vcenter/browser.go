package main

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// HostDatastoreBrowser as a vCenter answers it. The simulator's search
// dereferenced a nil search spec (nova lists its image cache without one),
// matched no file when the spec had no matchPattern (a vCenter matches
// every file), and returned a virtual disk as a bare file: no capacity, no
// provisioning, and the size of the descriptor alone.
//
// Here a disk found by a VmDiskFileQuery is one VmDiskFileInfo for its
// descriptor (its -flat extent is not listed separately, as on VMFS), with
// capacityKb, thin and diskType as the query's details ask, and a fileSize
// that is what the disk occupies on the datastore: the descriptor plus its
// extent, the extent's allocated bytes when the disk is thin (the datastore
// browser shows a thin disk's used space, capacityKb its provisioned size).
// Plain FileQuery results keep each file's own size, extents included.

type datastoreBrowser struct {
	*simulator.HostDatastoreBrowser
}

type datastoreSearch struct {
	*simulator.HostDatastoreBrowser
	datastorePath string
	spec          *types.HostDatastoreBrowserSearchSpec
	recurse       bool
	results       []types.HostDatastoreBrowserSearchResults
}

func searchSpecDefaults(spec *types.HostDatastoreBrowserSearchSpec) *types.HostDatastoreBrowserSearchSpec {
	if spec == nil {
		spec = &types.HostDatastoreBrowserSearchSpec{}
	}
	if len(spec.MatchPattern) == 0 {
		spec.MatchPattern = []string{"*"}
	}
	if spec.Details == nil {
		spec.Details = &types.FileQueryFlags{}
	}
	return spec
}

func (b *datastoreBrowser) SearchDatastoreTask(req *types.SearchDatastore_Task) soap.HasFault {
	search := &datastoreSearch{HostDatastoreBrowser: b.HostDatastoreBrowser,
		datastorePath: req.DatastorePath, spec: searchSpecDefaults(req.SearchSpec)}
	task := simulator.CreateTask(b.HostDatastoreBrowser, "searchDatastore", search.Run)
	return &methods.SearchDatastore_TaskBody{Res: &types.SearchDatastore_TaskResponse{Returnval: task.Run()}}
}

func (b *datastoreBrowser) SearchDatastoreSubFoldersTask(req *types.SearchDatastoreSubFolders_Task) soap.HasFault {
	search := &datastoreSearch{HostDatastoreBrowser: b.HostDatastoreBrowser,
		datastorePath: req.DatastorePath, spec: searchSpecDefaults(req.SearchSpec), recurse: true}
	task := simulator.CreateTask(b.HostDatastoreBrowser, "searchDatastoreSubFolders", search.Run)
	return &methods.SearchDatastoreSubFolders_TaskBody{Res: &types.SearchDatastoreSubFolders_TaskResponse{Returnval: task.Run()}}
}

func (s *datastoreSearch) Run(task *simulator.Task) (types.AnyType, types.BaseMethodFault) {
	var p object.DatastorePath
	if !p.FromString(s.datastorePath) {
		return nil, &types.InvalidDatastorePath{DatastorePath: s.datastorePath}
	}
	ds, ok := simulator.Map.FindByName(p.Datastore, s.Datastore).(*simulator.Datastore)
	if !ok {
		return nil, &types.InvalidDatastore{Name: p.Datastore}
	}
	task.Info.Entity = &ds.Self
	task.Info.EntityName = ds.Name
	dir := filepath.Join(ds.Info.GetDatastoreInfo().Url, p.Path)
	if err := s.search(ds.Self, s.datastorePath, dir); err != nil {
		if os.IsNotExist(err) {
			return nil, &types.FileNotFound{FileFault: types.FileFault{File: s.datastorePath}}
		}
		return nil, &types.InvalidArgument{InvalidProperty: p.Path}
	}
	if s.recurse {
		return types.ArrayOfHostDatastoreBrowserSearchResults{HostDatastoreBrowserSearchResults: s.results}, nil
	}
	return s.results[0], nil
}

func (s *datastoreSearch) search(ds types.ManagedObjectReference, folder, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	res := types.HostDatastoreBrowserSearchResults{Datastore: &ds, FolderPath: folder}
	for _, entry := range entries {
		info, err := entry.Info()
		if err != nil {
			continue // removed while listing
		}
		if s.matchesPattern(info.Name()) {
			if found := s.fileInfo(dir, info); found != nil {
				res.File = append(res.File, found)
			}
		}
		if s.recurse && info.IsDir() {
			_ = s.search(ds, strings.TrimSuffix(folder, "/")+"/"+info.Name(), filepath.Join(dir, info.Name()))
		}
	}
	s.results = append(s.results, res)
	return nil
}

func (s *datastoreSearch) matchesPattern(name string) bool {
	for _, pattern := range s.spec.MatchPattern {
		if ok, _ := path.Match(pattern, name); ok {
			return true
		}
	}
	return false
}

// fileInfo is the entry for one file, or nil when no query matches it. A
// file matches when any query does; it is described by the most specific
// query that matched (a disk's descriptor as a VmDiskFileInfo).
func (s *datastoreSearch) fileInfo(dir string, file os.FileInfo) types.BaseFileInfo {
	name := file.Name()
	var diskQuery *types.VmDiskFileQuery
	matched := len(s.spec.Query) == 0
	for _, q := range s.spec.Query {
		switch query := q.(type) {
		case *types.VmDiskFileQuery:
			if isDiskDescriptor(name) {
				diskQuery, matched = query, true
			}
		case *types.FolderFileQuery:
			matched = matched || file.IsDir()
		case *types.FileQuery:
			matched = true
		default:
			matched = matched || matchesOther(q, file)
		}
	}
	if !matched {
		return nil
	}
	details := s.spec.Details
	info := types.FileInfo{Path: name}
	if details.FileSize {
		info.FileSize = file.Size()
	}
	if details.Modification {
		mtime := file.ModTime()
		info.Modification = &mtime
	}
	if isTrue(details.FileOwner) {
		info.Owner = os.Getenv("USER")
	}
	if file.IsDir() {
		return &types.FolderFileInfo{FileInfo: info}
	}
	if diskQuery != nil {
		return diskFileInfo(filepath.Join(dir, name), info, details, diskQuery.Details)
	}
	if details.FileType && strings.HasSuffix(name, ".vmdk") && !strings.HasSuffix(name, "-flat.vmdk") {
		return &types.VmDiskFileInfo{FileInfo: info}
	}
	return &info
}

// matchesOther keeps the simulator's matching for the other file queries.
func matchesOther(q types.BaseFileQuery, file os.FileInfo) bool {
	ext := path.Ext(file.Name())
	switch q.(type) {
	case *types.FloppyImageFileQuery:
		return ext == ".img"
	case *types.IsoImageFileQuery:
		return ext == ".iso"
	case *types.VmConfigFileQuery:
		return ext == ".vmx"
	case *types.VmLogFileQuery:
		return ext == ".log" && strings.HasPrefix(file.Name(), "vmware")
	case *types.VmNvramFileQuery:
		return ext == ".nvram"
	case *types.VmSnapshotFileQuery:
		return ext == ".vmsn"
	}
	return false
}

// isDiskDescriptor: a .vmdk that is not an extent (-flat, -delta, -sesparse).
func isDiskDescriptor(name string) bool {
	if !strings.HasSuffix(name, ".vmdk") {
		return false
	}
	for _, suffix := range []string{"-flat.vmdk", "-delta.vmdk", "-sesparse.vmdk"} {
		if strings.HasSuffix(name, suffix) {
			return false
		}
	}
	return true
}

// allocated is the bytes a file occupies on disk (holes excluded).
func allocated(file os.FileInfo) int64 {
	if st, ok := file.Sys().(*syscall.Stat_t); ok {
		used := st.Blocks * 512
		if used < file.Size() {
			return used
		}
	}
	return file.Size()
}

// diskFileInfo describes a virtual disk by its descriptor: what it
// occupies (descriptor plus extent), when it last changed (the later of
// the two), and the details the query asked for.
func diskFileInfo(descriptorPath string, info types.FileInfo, details *types.FileQueryFlags,
	want *types.VmDiskFileQueryFlags) *types.VmDiskFileInfo {
	disk := &types.VmDiskFileInfo{FileInfo: info}
	d, ok := readDescriptor(descriptorPath)
	if !ok {
		return disk // a sparse (hosted) disk or a placeholder: a file like any other
	}
	if extent, err := os.Stat(flatName(descriptorPath)); err == nil {
		if details.FileSize {
			size := extent.Size()
			if d.thin {
				size = allocated(extent)
			}
			disk.FileSize += size
		}
		if details.Modification && disk.Modification != nil && extent.ModTime().After(*disk.Modification) {
			mtime := extent.ModTime()
			disk.Modification = &mtime
		}
	}
	if want != nil {
		if want.CapacityKb {
			disk.CapacityKb = d.sectors * sectorSize / 1024
		}
		if isTrue(want.Thin) {
			disk.Thin = types.NewBool(d.thin)
		}
		if want.DiskType {
			disk.DiskType = "VirtualDiskFlatVer2BackingInfo"
		}
		if want.HardwareVersion {
			disk.HardwareVersion = 14
		}
		if isTrue(want.DiskExtents) {
			disk.DiskExtents = []string{path.Base(flatName(descriptorPath))}
		}
	}
	return disk
}
