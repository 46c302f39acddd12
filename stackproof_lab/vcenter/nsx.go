package main

// The lab's ESXi hosts are NSX-T transport nodes: each sees one opaque
// network (type nsx.LogicalSwitch, opaqueNetworkId = the logical switch id)
// per logical switch of its overlay transport zone, which is what nova's
// VMware driver backs a NIC with. NSX pushes them to the hosts; here the
// vCenter reads them from the lab NSX manager's management plane API
// (GET /api/v1/logical-switches: the realized segments) every second and
// adds or removes opaque networks so that every host of every cluster sees
// exactly those. An opaque network of another type is left alone.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

const (
	envNSXUser        = "STACKPROOF_NSX_USER"
	envNSXPassword    = "STACKPROOF_NSX_PASSWORD"
	nsxSyncInterval   = time.Second
	nsxLogicalSwitch  = "nsx.LogicalSwitch"
	nsxRequestTimeout = 5 * time.Second
)

var (
	nsxURL = flag.String("nsx-url", "", "lab NSX manager (https://host:port) whose logical switches become opaque networks; empty: none")
	nsxCA  = flag.String("nsx-ca", "", "CA certificate to verify the NSX manager with")
)

type logicalSwitch struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
}

// fetchLogicalSwitches reads every page of the manager's logical switches.
func fetchLogicalSwitches(client *http.Client, base, user, password string) (map[string]string, error) {
	found := map[string]string{}
	cursor := ""
	for {
		u := base + "/api/v1/logical-switches"
		if cursor != "" {
			u += "?cursor=" + url.QueryEscape(cursor)
		}
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(user, password)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		var page struct {
			Results []logicalSwitch `json:"results"`
			Cursor  string          `json:"cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
		}
		if err != nil {
			return nil, err
		}
		for _, ls := range page.Results {
			found[ls.ID] = ls.DisplayName
		}
		if page.Cursor == "" {
			return found, nil
		}
		cursor = page.Cursor
	}
}

func nsxClient(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", caFile)
	}
	return &http.Client{
		Timeout:   nsxRequestTimeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}, nil
}

// opaqueNetworks returns the nsx.LogicalSwitch opaque networks of the
// datacenter's network folder by opaqueNetworkId.
func opaqueNetworks(folder *simulator.Folder) map[string]*mo.OpaqueNetwork {
	found := map[string]*mo.OpaqueNetwork{}
	simulator.Map.WithLock(folder, func() {
		for _, ref := range folder.ChildEntity {
			net, ok := simulator.Map.Get(ref).(*mo.OpaqueNetwork)
			if !ok {
				continue
			}
			if s, ok := net.Summary.(*types.OpaqueNetworkSummary); ok && s.OpaqueNetworkType == nsxLogicalSwitch {
				found[s.OpaqueNetworkId] = net
			}
		}
	})
	return found
}

// hostsOf lists the hosts of every cluster of the inventory.
func hostsOf(inv *inventory) []*simulator.HostSystem {
	var hosts []*simulator.HostSystem
	for _, cluster := range inv.clusters {
		for _, ref := range cluster.Host {
			if host, ok := simulator.Map.Get(ref).(*simulator.HostSystem); ok {
				hosts = append(hosts, host)
			}
		}
	}
	return hosts
}

func addLogicalSwitch(inv *inventory, folder *simulator.Folder, id, name string) error {
	summary := types.OpaqueNetworkSummary{OpaqueNetworkId: id, OpaqueNetworkType: nsxLogicalSwitch}
	summary.Name = name
	if err := folder.AddOpaqueNetwork(summary); err != nil {
		return err
	}
	net := opaqueNetworks(folder)[id]
	if net == nil {
		return fmt.Errorf("opaque network %s was not created", id)
	}
	dc := inv.datacenter
	simulator.Map.WithLock(dc, func() { dc.Network = appendRef(dc.Network, net.Self) })
	for _, cluster := range inv.clusters {
		c := cluster
		simulator.Map.WithLock(c, func() { c.Network = appendRef(c.Network, net.Self) })
	}
	for _, host := range hostsOf(inv) {
		h := host
		simulator.Map.WithLock(h, func() {
			h.Network = appendRef(h.Network, net.Self)
			info := append([]types.HostOpaqueNetworkInfo{}, h.Config.Network.OpaqueNetwork...)
			h.Config.Network.OpaqueNetwork = append(info, types.HostOpaqueNetworkInfo{
				OpaqueNetworkId: id, OpaqueNetworkName: name, OpaqueNetworkType: nsxLogicalSwitch})
		})
		simulator.Map.WithLock(net, func() { net.Host = appendRef(net.Host, h.Self) })
	}
	return nil
}

func removeLogicalSwitch(inv *inventory, folder *simulator.Folder, id string, net *mo.OpaqueNetwork) {
	for _, host := range hostsOf(inv) {
		h := host
		simulator.Map.WithLock(h, func() {
			h.Network = removeRef(h.Network, net.Self)
			var kept []types.HostOpaqueNetworkInfo
			for _, info := range h.Config.Network.OpaqueNetwork {
				if info.OpaqueNetworkId != id {
					kept = append(kept, info)
				}
			}
			h.Config.Network.OpaqueNetwork = kept
		})
	}
	for _, cluster := range inv.clusters {
		c := cluster
		simulator.Map.WithLock(c, func() { c.Network = removeRef(c.Network, net.Self) })
	}
	dc := inv.datacenter
	simulator.Map.WithLock(dc, func() { dc.Network = removeRef(dc.Network, net.Self) })
	simulator.Map.WithLock(folder, func() { folder.ChildEntity = removeRef(folder.ChildEntity, net.Self) })
	simulator.Map.Remove(net.Self)
}

// syncLogicalSwitches makes the opaque networks match the manager's logical
// switches; returns what it changed.
func syncLogicalSwitches(inv *inventory, folder *simulator.Folder, wanted map[string]string) ([]string, error) {
	var changes []string
	have := opaqueNetworks(folder)
	for id, net := range have {
		if _, ok := wanted[id]; !ok {
			removeLogicalSwitch(inv, folder, id, net)
			changes = append(changes, "-"+net.Name)
		}
	}
	for id, name := range wanted {
		if _, ok := have[id]; !ok {
			if err := addLogicalSwitch(inv, folder, id, name); err != nil {
				return changes, err
			}
			changes = append(changes, "+"+name)
		}
	}
	return changes, nil
}

// startNSXSync keeps the inventory's opaque networks in step with the lab
// NSX manager, in the background, for the life of the process.
func startNSXSync(inv *inventory) {
	if *nsxURL == "" {
		return
	}
	folder := simulator.Map.Get(inv.datacenter.NetworkFolder).(*simulator.Folder)
	user, password := os.Getenv(envNSXUser), os.Getenv(envNSXPassword)
	go func() {
		lastProblem := ""
		var client *http.Client
		for {
			problem := ""
			var err error
			if client == nil {
				// Made once and kept (its connection is reused); made again after a failure, in case the
				// manager made itself a new CA.
				client, err = nsxClient(*nsxCA)
			}
			if err == nil {
				var wanted map[string]string
				wanted, err = fetchLogicalSwitches(client, *nsxURL, user, password)
				if err == nil {
					var changes []string
					changes, err = syncLogicalSwitches(inv, folder, wanted)
					if len(changes) > 0 {
						log.Printf("NSX logical switches as opaque networks: %v", changes)
					}
				}
			}
			if err != nil {
				problem = err.Error()
				if client != nil {
					client.CloseIdleConnections()
				}
				client = nil
			}
			// Say it once, not every second: the manager may start after the vCenter.
			if problem != lastProblem {
				if problem != "" {
					log.Printf("NSX manager %s: %s (retrying every %s)", *nsxURL, problem, nsxSyncInterval)
				} else {
					log.Printf("NSX manager %s: reading its logical switches", *nsxURL)
				}
				lastProblem = problem
			}
			time.Sleep(nsxSyncInterval)
		}
	}()
}
