// Command stackproof-vcenter is the lab's vCenter: govmomi's vCenter
// simulator (Debian's golang-github-vmware-govmomi-dev 0.24.2) with the
// inventory stackproof's reference architecture calls for, and the methods
// and fixes nova's VMware driver needs that the simulator lacks.
//
// It listens on a loopback address only, with TLS, and writes into its
// state directory the CA certificate a client verifies it with and an
// endpoint file (vcenter.json) once it answers.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
)

// Environment variables that override the flags' defaults, so that the lab
// (or a person) can set the credentials without putting them on a command
// line that every user of the machine can read.
const (
	envUser     = "STACKPROOF_VCENTER_USER"
	envPassword = "STACKPROOF_VCENTER_PASSWORD"
	envUUID     = "STACKPROOF_VCENTER_UUID"
)

// Lab defaults. The password is not a secret: this is a simulator that
// only listens on loopback; set STACKPROOF_VCENTER_PASSWORD to change it.
const (
	defaultUser     = "administrator@vsphere.local"
	defaultPassword = "stackproof-lab"
	// defaultUUID is pinned because nova names its node
	// "<cluster moid>.<vCenter instance UUID>": a new UUID per start would
	// make a restarted lab look like a different hypervisor to nova.
	defaultUUID = "5a1d0e2c-7c3b-4b8e-9f11-57ac4f00b001"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

type options struct {
	listen   string
	listenIP net.IP
	stateDir string
	wsdlDir  string
	user     string
	password string
	uuid     string
	trace    bool
	inv      inventorySpec
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func parseOptions() (*options, error) {
	o := &options{}
	flag.StringVar(&o.listen, "listen", "127.0.0.1:8989", "loopback address:port to serve https on")
	flag.StringVar(&o.stateDir, "state-dir", "", "directory for the TLS files, the endpoint file and the datastores (required)")
	flag.StringVar(&o.wsdlDir, "wsdl-dir", "", "directory of vim WSDL/XSD files to serve under /sdk/ (oslo.vmware needs them)")
	flag.StringVar(&o.user, "user", envOr(envUser, defaultUser), "user name the simulator accepts (env "+envUser+")")
	flag.StringVar(&o.uuid, "instance-uuid", envOr(envUUID, defaultUUID), "vCenter instance UUID (env "+envUUID+")")
	flag.BoolVar(&o.trace, "trace", false, "write SOAP requests and responses to stderr")
	flag.StringVar(&o.inv.datacenter, "datacenter", "sp-dc1", "datacenter name")
	clusters := flag.String("clusters", "sp-cluster-1,sp-cluster-2", "comma-separated cluster names")
	flag.IntVar(&o.inv.hostsPerCluster, "hosts-per-cluster", 3, "ESXi hosts in each cluster")
	flag.StringVar(&o.inv.sharedDatastore, "shared-datastore", "sp-vmfs-shared", "a VMFS datastore mounted on every host of every cluster (empty: none)")
	flag.StringVar(&o.inv.opaqueNetwork, "opaque-network", "sp-nsx-tenant", "name of the NSX opaque network")
	flag.StringVar(&o.inv.opaqueNetworkID, "opaque-network-id", "6f2d3e4a-0b1c-4d5e-8f90-a1b2c3d4e5f6", "its opaqueNetworkId (NSX logical switch id)")
	flag.Parse()
	// The password comes from the environment only: a flag would show it in ps.
	o.password = envOr(envPassword, defaultPassword)

	if o.stateDir == "" {
		return nil, fmt.Errorf("-state-dir is required")
	}
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return nil, fmt.Errorf("-listen %q: %v", o.listen, err)
	}
	// The lab must never expose a vCenter beyond the machine: refuse anything
	// but a loopback address or one of the documentation ranges (RFC 5737)
	// that the lab gives its hosts inside their network namespaces.
	if ip := net.ParseIP(host); ip == nil || !(ip.IsLoopback() || documentationRange(ip)) {
		return nil, fmt.Errorf("-listen %q: only a loopback or RFC 5737 IP address is allowed", o.listen)
	}
	o.listenIP = net.ParseIP(host)
	if !uuidPattern.MatchString(o.uuid) {
		return nil, fmt.Errorf("-instance-uuid %q is not a UUID", o.uuid)
	}
	for _, name := range strings.Split(*clusters, ",") {
		if name = strings.TrimSpace(name); name != "" {
			o.inv.clusters = append(o.inv.clusters, name)
		}
	}
	if len(o.inv.clusters) == 0 || o.inv.hostsPerCluster < 1 {
		return nil, fmt.Errorf("need at least one cluster with at least one host")
	}
	return o, nil
}

// documentationRange says whether ip is in 192.0.2.0/24, 198.51.100.0/24
// or 203.0.113.0/24: addresses that are never routed.
func documentationRange(ip net.IP) bool {
	for _, cidr := range []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"} {
		if _, network, _ := net.ParseCIDR(cidr); network.Contains(ip) {
			return true
		}
	}
	return false
}

// endpoint is what vcenter.json tells a client.
type endpoint struct {
	URL          string   `json:"url"`
	Host         string   `json:"host"`
	Port         int      `json:"port"`
	CAFile       string   `json:"ca_file"`
	InstanceUUID string   `json:"instance_uuid"`
	User         string   `json:"user"`
	Datacenter   string   `json:"datacenter"`
	Clusters     []string `json:"clusters"`
	Datastores   []string `json:"datastores"`
	PID          int      `json:"pid"`
}

func writeJSON(path string, v interface{}) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	// Rename so that a reader never sees a half-written file.
	return os.Rename(tmp, path)
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("stackproof-vcenter: ")
	o, err := parseOptions()
	if err != nil {
		log.Fatal(err)
	}
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o *options) error {
	started := time.Now()
	if err := os.MkdirAll(o.stateDir, 0o755); err != nil {
		return err
	}
	// A stale endpoint file would tell the lab a dead server is up.
	endpointFile := filepath.Join(o.stateDir, "vcenter.json")
	_ = os.Remove(endpointFile)

	simulator.Trace = o.trace
	tlsFiles, tlsConfig, err := loadOrCreateTLS(o.stateDir, o.listenIP)
	if err != nil {
		return fmt.Errorf("TLS: %v", err)
	}

	o.inv.instanceUUID = o.uuid
	o.inv.datastoreRoot = filepath.Join(o.stateDir, "datastores")
	model, inv, err := buildInventory(&o.inv)
	if err != nil {
		return fmt.Errorf("inventory: %v", err)
	}
	defer model.Remove()
	installExtensions(inv)
	startNSXSync(inv)

	service := model.Service
	service.TLS = tlsConfig
	service.Listen = &url.URL{Host: o.listen, User: url.UserPassword(o.user, o.password)}
	if err := serveWSDL(service, o.wsdlDir); err != nil {
		return err
	}
	serveNFC(service)
	setThumbprint(tlsConfig)
	// The server is not closed on exit: Close waits for every request in
	// progress, including long polls (WaitForUpdatesEx) that may last
	// minutes; the process ends and the kernel closes the sockets.
	server := service.NewServer()

	addr := server.Listener.Addr().(*net.TCPAddr)
	u := url.URL{Scheme: "https", Host: addr.String(), Path: "/sdk"}
	ep := endpoint{
		URL:          u.String(),
		Host:         addr.IP.String(),
		Port:         addr.Port,
		CAFile:       tlsFiles.ca,
		InstanceUUID: o.uuid,
		User:         o.user,
		Datacenter:   o.inv.datacenter,
		Clusters:     o.inv.clusters,
		Datastores:   inv.datastoreNames(),
		PID:          os.Getpid(),
	}
	if err := writeJSON(endpointFile, ep); err != nil {
		return err
	}
	log.Printf("ready: %s (instance %s, user %s, CA %s) in %s",
		ep.URL, o.uuid, o.user, tlsFiles.ca, time.Since(started).Round(time.Millisecond))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Print("stopping")
	_ = os.Remove(endpointFile)
	return nil
}
